#!/bin/bash
# cli.sh - every program behaves like a Unix tool: --help on stdout with exit
# 0, --version as "prog (miso) X.Y", a usage error exits 2 with a hint on
# stderr, and a man page exists with the sections users look for.
set -u
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "PASS: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
progs=$(cd "$MISO_TOP" && ls tools/*.c trainer/*.c eval/*.c 2>/dev/null | xargs -n1 basename 2>/dev/null | sed 's/\.c$//')
for p in $progs; do
    out=$("$MISO_BIN/$p" --help 2>/dev/null); rc=$?
    if [ $rc -eq 0 ] && echo "$out" | grep -qi "usage"; then ok "$p --help prints usage on stdout and exits 0"
    else bad "$p --help (exit $rc)"; fi
    v=$("$MISO_BIN/$p" --version 2>/dev/null)
    if [[ "$v" =~ ^$p\ \(miso\)\ [0-9]+\.[0-9]+ ]]; then ok "$p --version prints '$v'"
    else bad "$p --version printed '$v'"; fi
    err=$("$MISO_BIN/$p" --no-such-option 2>&1 >/dev/null </dev/null); rc=$?
    if [ $rc -eq 2 ] && echo "$err" | grep -q -- "--help"; then ok "$p rejects an unknown option with exit 2 and a hint"
    else bad "$p unknown option: exit $rc, stderr '$err'"; fi
    m="$MISO_TOP/man/$p.1"
    if [ -f "$m" ] && grep -q '^\.TH' "$m" && grep -q '^\.SH .*OPTIONS' "$m" && grep -q '^\.SH .*EXIT STATUS' "$m"; then
        ok "$p has a man page with OPTIONS and EXIT STATUS"
    else bad "$p man page missing or without OPTIONS/EXIT STATUS ($m)"; fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
