#!/bin/bash
# bench-data.sh - crab-split and miso-chunk throughput beside jq -c doing the
# same restructuring (bench/crab-split.jq, bench/miso-chunk.jq) on the same
# generated 200 MB Crab-like file, in one run.  MB = 2^20 bytes of input.
#   BENCH_MB=20 bench/bench-data.sh     a smaller file while developing
set -u
cd "$(dirname "$0")/.." || exit 2
MB=${BENCH_MB:-200}
F=bench/out/crab-${MB}m.jsonl
mkdir -p bench/out
[ -s "$F" ] || { echo "generating $F ..." >&2; python3 bench/gen-crab.py "$MB" > "$F.tmp" && mv "$F.tmp" "$F"; }
bytes=$(stat -c %s "$F")
cat "$F" > /dev/null # warm the page cache

run() { # label, command... ; prints seconds
    local t0 t1 label=$1; shift
    t0=$(date +%s.%N)
    "$@" > /dev/null || echo "($label failed)" >&2
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}'
}
mbs() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.1f", b / 1048576 / s }'; }

echo "input: $F, $((bytes / 1048576)) MB, $(wc -l < "$F") records"
printf '%-12s %10s %10s %10s %10s %8s\n' tool "miso s" "miso MB/s" "jq s" "jq MB/s" ratio
for t in crab-split miso-chunk; do
    ts=$(run $t "$MISO_BIN/$t" -q "$F")
    tj=$(run jq jq -c -f "bench/$t.jq" "$F")
    printf '%-12s %10s %10s %10s %10s %7sx\n' "$t" "$ts" "$(mbs "$ts")" "$tj" "$(mbs "$tj")" \
        "$(awk -v a="$tj" -v b="$ts" 'BEGIN { printf "%.1f", a / b }')"
done
