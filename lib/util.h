/*
 * util.h - the few things every miso program and module needs: program name,
 * diagnostics, allocation that never returns NULL, checked size arithmetic and
 * a growable byte buffer (StrBuf, after git's strbuf).
 *
 * Invariants
 *   - xmalloc and friends never return NULL: out-of-memory aborts the process
 *     with a message (the one exception to "library code never exits").
 *   - A StrBuf's buf is always NUL-terminated, even when len == 0, so sb.buf
 *     can be passed to any C string function.  len excludes the NUL.
 *
 * Ownership
 *   - A StrBuf owns its buffer.  sb_release frees it and re-inits the struct;
 *     sb_detach hands the buffer to the caller (who frees it with free()).
 *   - Any call that appends may reallocate: pointers into sb.buf taken before
 *     the call are invalid after it.
 *
 * Errors
 *   - die() and warn() are for programs (tools/, trainer/, eval/), never lib/:
 *     they print "prog: message" to stderr; a message that ends in ':' gets
 *     ": strerror(errno)" appended.  die() exits with status 1.
 *   - die_usage() prints the complaint plus "try 'prog --help'" and exits 2.
 *
 * Usage
 *   util_set_prog(argv[0]);
 *   StrBuf sb = SB_INIT;
 *   sb_addf(&sb, "%d items", n);
 *   puts(sb.buf);
 *   sb_release(&sb);
 */
#ifndef MISO_UTIL_H
#define MISO_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define MISO_VERSION "0.1"

#if defined(__GNUC__)
#define MISO_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define MISO_NORETURN __attribute__((noreturn))
#else
#define MISO_PRINTF(a, b)
#define MISO_NORETURN
#endif

/* Program name used as the prefix of every diagnostic ("crab-split"). */
void util_set_prog(const char *argv0);
const char *util_prog(void);

MISO_NORETURN void die(const char *fmt, ...) MISO_PRINTF(1, 2);
MISO_NORETURN void die_usage(const char *fmt, ...) MISO_PRINTF(1, 2);
void warn(const char *fmt, ...) MISO_PRINTF(1, 2);
/* "prog (miso) 0.1" on stdout, exit 0. */
MISO_NORETURN void util_print_version(void);
/* Checks ferror/fclose of stdout; on failure dies with "write error". */
void util_close_stdout(void);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* a*b, aborting on overflow (all size arithmetic goes through these). */
size_t size_mul(size_t a, size_t b);
size_t size_add(size_t a, size_t b);
/* Grow *p (holding *cap elements of size elem) to at least need elements. */
void *grow_array(void *p, size_t *cap, size_t need, size_t elem);

typedef struct {
    char *buf;
    size_t len;
    size_t cap;
} StrBuf;

extern char sb_empty[];
#define SB_INIT {sb_empty, 0, 0}

void sb_init(StrBuf *sb);
void sb_release(StrBuf *sb);
char *sb_detach(StrBuf *sb, size_t *len);
void sb_grow(StrBuf *sb, size_t extra);
void sb_add(StrBuf *sb, const void *data, size_t n);
void sb_adds(StrBuf *sb, const char *s);
void sb_addc(StrBuf *sb, int c);
void sb_addf(StrBuf *sb, const char *fmt, ...) MISO_PRINTF(2, 3);
void sb_vaddf(StrBuf *sb, const char *fmt, va_list ap);
void sb_reset(StrBuf *sb);     /* len = 0, keeps the allocation */
void sb_setlen(StrBuf *sb, size_t len);

/* UTF-8: 1 if s[0..n) is well-formed UTF-8 (no surrogates, no overlongs).
 * On failure *bad (if non-NULL) is the byte offset of the first bad byte. */
int utf8_valid(const char *s, size_t n, size_t *bad);
/* Decode one code point at s (n bytes available); returns its length in bytes,
 * or 0 (and *cp = 0xFFFD) for an invalid sequence, consuming 1 byte then. */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Append the UTF-8 encoding of cp; returns the number of bytes (1..4). */
size_t utf8_encode(uint32_t cp, char out[4]);
/* Scanners, 8 bytes at a time: the length of the longest prefix of s[0..n)
 * that is all ASCII (ascii_span), or that a JSON string holds verbatim, i.e.
 * has no '"', '\\' or control byte < 0x20 and, when ascii is set, nothing
 * but printable ASCII, 0x20..0x7e (json_plain_span; json.dumps' ensure_ascii). */
size_t ascii_span(const char *s, size_t n);
size_t json_plain_span(const char *s, size_t n, int ascii);

/* The folder of shipped data (Punkt parameters, langdetect profiles, the
 * IFEval prompts ...): $MISO_DATA if set, else the datasets/ folder of the
 * source tree the programs were built from (MISO_DATADIR, set by make). */
const char *util_datadir(void);
/* util_datadir() + "/" + rel, in a static buffer (valid until the next call). */
const char *util_datapath(const char *rel);

/* Monotonic seconds, for rates and progress. */
double util_now(void);

/*
 * Err - how lib/ reports bad input.  A library function that can meet bad
 * data takes an Err * and, on failure, fills it (file, line, message) and
 * returns -1 or NULL.  The program decides what to do: err_die() prints
 * "prog: FILE:LINE: message" and exits 1; err_warn() prints the same and
 * returns.  file may be NULL (then only "prog: message" is printed) and
 * line 0 (then "prog: FILE: message").  file is borrowed, never freed.
 */
typedef struct {
    const char *file;
    long line;
    char msg[512];
} Err;

void err_set(Err *e, const char *file, long line, const char *fmt, ...) MISO_PRINTF(4, 5);
void err_format(const Err *e, StrBuf *out); /* "FILE:LINE: message" */
MISO_NORETURN void err_die(const Err *e);
void err_warn(const Err *e);

#endif
