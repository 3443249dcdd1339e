#!/bin/bash
# run-cases.sh - golden end-to-end cases (after git's test_cmp).
#
# Each tests/e2e/<case>/ holds:
#   cmd              a shell script, run with bash in a scratch copy of the
#                    case folder, with the built programs first on PATH
#   expected.stdout  (optional) stdout must equal it byte for byte
#   expected.stderr  (optional) stderr must equal it byte for byte
#   expected.status  (optional, default 0) the exit status of cmd
# Data from datasets/ is reachable as $MISO_TOP/datasets/...
set -u
cd "$(dirname "$0")" || exit 2
passed=0 failed=0
for dir in */; do
    c=${dir%/}
    [ -f "$c/cmd" ] || continue
    work=$(mktemp -d)
    cp -r "$c/." "$work/"
    (cd "$work" && bash ./cmd >"$work/.out" 2>"$work/.err" </dev/null)
    rc=$?
    want=0
    [ -f "$c/expected.status" ] && want=$(cat "$c/expected.status")
    ok=1
    [ "$rc" = "$want" ] || { ok=0; echo "    $c: exit status $rc, expected $want"; }
    if [ -f "$c/expected.stdout" ] && ! cmp -s "$c/expected.stdout" "$work/.out"; then
        ok=0; echo "    $c: stdout differs:"; diff "$c/expected.stdout" "$work/.out" | head -n 10
    fi
    if [ -f "$c/expected.stderr" ] && ! cmp -s "$c/expected.stderr" "$work/.err"; then
        ok=0; echo "    $c: stderr differs:"; diff "$c/expected.stderr" "$work/.err" | head -n 10
    fi
    if [ $ok = 1 ]; then passed=$((passed + 1)); echo "PASS: $c"; else failed=$((failed + 1)); echo "FAIL: $c"; fi
    rm -rf "$work"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
