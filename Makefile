# miso - one plain GNU Makefile, no configure step.
#
#   make               build every program into build/bin and the unit tests
#   make check         install missing Debian packages, build, run every test
#   make check SANITIZE=1   the same under AddressSanitizer + UBSan (build-san/)
#   make demo          the whole pipeline end to end on the data in datasets/
#   make bench         benchmarks against the competitors (not part of check)
#   make lint / make format
#
# Flavours: SANITIZE=1 (or a list such as SANITIZE=address,undefined) builds
# into build-san/; V=1 shows the commands.

CC      = cc
O       = build
ifneq ($(SANITIZE),)
  O = build-san
  ifeq ($(SANITIZE),1)
    SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  else
    SANFLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  endif
endif

PKGS     = libpcre2-8 libcjson zlib libcurl openblas ompi-c
OPT      = -O2
CFLAGS   = -std=c11 $(OPT) -g -Wall -Wextra -Werror -D_GNU_SOURCE -fopenmp -Ilib \
           $(shell pkg-config --cflags $(PKGS)) $(SANFLAGS)
# Where programs find shipped data (override at run time with $MISO_DATA).
CFLAGS  += -DMISO_DATADIR='"$(CURDIR)/datasets"'
DEPFLAGS = -MMD -MP
LDFLAGS  = -fopenmp -Wl,--as-needed $(SANFLAGS)
LDLIBS   = $(shell pkg-config --libs $(PKGS)) -lm

ifeq ($(V),)
  Q = @
  say = @printf '  %-6s %s\n' $(1) $(2);
else
  Q =
  say =
endif

LIB_SRC  = $(wildcard lib/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(O)/%.o)
LIB      = $(O)/libmiso.a
PROG_SRC = $(wildcard tools/*.c trainer/*.c eval/*.c)
PROGS    = $(patsubst %.c,$(O)/bin/%,$(notdir $(PROG_SRC)))
TEST_SRC = $(wildcard tests/unit/test_*.c)
TESTS    = $(patsubst tests/unit/%.c,$(O)/tests/%,$(TEST_SRC))

vpath %.c tools trainer eval

all: $(PROGS) $(TESTS)

$(O)/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(O)/bin/%: %.c $(LIB)
	@mkdir -p $(dir $@)
	$(call say,CCLD,$@)$(CC) $(CFLAGS) $(DEPFLAGS) -MF $(O)/bin/$*.d -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

$(O)/tests/%: tests/unit/%.c $(LIB) tests/unit/testhelp.h
	@mkdir -p $(dir $@)
	$(call say,CCLD,$@)$(CC) $(CFLAGS) $(DEPFLAGS) -MF $(O)/tests/$*.d -Itests/unit -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

# The README's two commands.  They first install any missing Debian package
# (scripts/deps.sh), then re-enter make so pkg-config sees the new packages.
check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)MISO_BUILD=$(O) tests/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)MISO_BUILD=$(O) scripts/demo.sh

deps:
	$(Q)scripts/deps.sh

bench:
	$(Q)scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory all OPT=-O3
	$(Q)MISO_BUILD=$(O) bench/run.sh

lint:
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
	  --suppress=missingIncludeSystem --inline-suppr -Ilib lib tools trainer eval

format:
	clang-format -i lib/*.[ch] tools/*.c trainer/*.c eval/*.c tests/unit/*.[ch]

clean:
	rm -rf build build-san

.PHONY: all check demo deps bench lint format clean
.SECONDARY:

-include $(wildcard $(O)/lib/*.d $(O)/bin/*.d $(O)/tests/*.d)
