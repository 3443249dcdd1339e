#!/bin/bash
# run.sh - run every miso test and print the total "N passed, N failed".
#
#   tests/run.sh [PATTERN]     only suites whose name contains PATTERN
#
# Three kinds of suite, all run from the repository root:
#   unit   $MISO_BUILD/tests/test_*        one binary per lib/ module
#   sh     tests/sh/*.sh                   scripted checks of whole programs
#   e2e    tests/e2e/<case>/               cmd + expected stdout/stderr/status
# Unit and sh suites end with their own "N passed, N failed" line, which is
# added to the total; a suite that exits non-zero without reporting a failure
# counts as one failure.  Each e2e case is one test.
set -u
cd "$(dirname "$0")/.." || exit 2
TOP=$(pwd)
B=${MISO_BUILD:-build}
export MISO_BIN="$TOP/$B/bin"
export PATH="$MISO_BIN:$PATH"
export MISO_TOP="$TOP"
export LC_ALL=C.UTF-8
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$TOP/tests/lsan.supp:print_suppressions=0}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
pat=${1:-}
LOG="$TOP/$B/test-logs"
mkdir -p "$LOG"
passed=0 failed=0
failures=()

suite() { # name, command...
    local name=$1; shift
    [ -n "$pat" ] && [[ "$name" != *"$pat"* ]] && return
    local log="$LOG/$(echo "$name" | tr '/ ' '__').log"
    local t0=$SECONDS
    timeout 900 "$@" >"$log" 2>&1
    local rc=$?
    local last p f
    last=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -n "$last" ]; then
        p=$(echo "$last" | sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2/')
        f=$(echo "$last" | sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\3/')
    else
        p=0 f=0
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    printf '%-40s %4d passed, %d failed  (%ds)\n' "$name" "$p" "$f" $((SECONDS - t0))
    if [ "$f" -ne 0 ]; then
        failures+=("$name")
        grep -E '^FAIL' "$log" | head -n 20 | sed 's/^/    /'
        [ "$rc" -ne 0 ] && [ -z "$last" ] && tail -n 15 "$log" | sed 's/^/    | /'
    fi
}

for t in "$B"/tests/test_*; do
    [ -x "$t" ] || continue
    suite "unit/$(basename "$t")" "$t"
done
for s in tests/sh/*.sh; do
    [ -f "$s" ] || continue
    suite "sh/$(basename "$s" .sh)" bash "$s"
done
if [ -d tests/e2e ] && ls tests/e2e/*/cmd >/dev/null 2>&1; then
    suite "e2e" bash tests/e2e/run-cases.sh
fi

if [ ${#failures[@]} -ne 0 ]; then
    echo "failing suites (logs in $B/test-logs/): ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
