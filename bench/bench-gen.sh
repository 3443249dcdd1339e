#!/bin/bash
# bench-gen.sh - local generation speed (lib/forward):
#   1. greedy decoding tok/s on datasets/models/stories260K.bin beside
#      llama2.c's run.c (built -O3 from $LLAMA2C_DIR/run.c when that points
#      at a llama2.c checkout; nothing is downloaded), else beside the
#      documented ~4,000 tok/s of run.c on this machine;
#   2. prefill tok/s and MFU for the mid preset (~56 M parameters, random
#      weights) against an sgemm peak measured in the same run.
# Keep it short: a few seconds in all.
set -u
cd "$(dirname "$0")/.." || exit 2
B=${MISO_BUILD:-build}
OUT=bench/out/gen
mkdir -p "$OUT"
[ -f "$B/libmiso.a" ] || make -s all || exit 1
cc -std=c11 -O2 -D_GNU_SOURCE -fopenmp -Ilib bench/gen-bench.c "$B/libmiso.a" \
    $(pkg-config --libs libcjson openblas zlib libpcre2-8 libcurl) -lm -o "$OUT/gen-bench" || exit 1
MODEL=datasets/models/stories260K.bin
STEPS=256

ours=$("$OUT/gen-bench" greedy "$MODEL" "$STEPS" 21)
echo "miso:   $ours"
ours_tps=$(echo "$ours" | sed -E 's/.*: ([0-9]+) tok\/s.*/\1/')

if [ -n "${LLAMA2C_DIR:-}" ] && [ -f "$LLAMA2C_DIR/run.c" ]; then
    gcc -O3 -o "$OUT/run" "$LLAMA2C_DIR/run.c" -lm || exit 1
    # run.c needs a tokenizer file to print; a fake 512-token one will do
    python3 - "$OUT/tok512-fake.bin" <<'PY'
import struct, sys
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<i", 8))
    for i in range(512):
        s = (" %d" % i).encode()
        f.write(struct.pack("<fi", 0.0, len(s)) + s)
PY
    rates=()
    for i in $(seq 1 11); do
        r=$("$OUT/run" "$MODEL" -t 0 -n "$STEPS" -z "$OUT/tok512-fake.bin" 2>&1 >/dev/null | sed -nE 's/achieved tok\/s: ([0-9.]+)/\1/p')
        rates+=("$r")
    done
    theirs=$(printf '%s\n' "${rates[@]}" | sort -g | sed -n 6p)
    echo "run.c:  greedy $STEPS steps: ${theirs%.*} tok/s (median of 11, gcc -O3, same run)"
else
    theirs=4000
    echo "run.c:  not built (set LLAMA2C_DIR to a llama2.c checkout); documented ~4,000 tok/s on this machine"
fi
awk -v a="$ours_tps" -v b="$theirs" 'BEGIN { printf "ratio:  %.2fx run.c\n", a / b }'

# prefill at one thread and at the default thread count, each against the
# sgemm peak measured with the same thread count (a loaded machine hurts the
# 2-thread figures most: every BLAS call ends in a barrier)
for th in 1 "${OMP_NUM_THREADS:-$(nproc)}"; do
    peak=$(OMP_NUM_THREADS=$th "$OUT/gen-bench" sgemm - 2048 5)
    pf=$(OMP_NUM_THREADS=$th "$OUT/gen-bench" prefill mid 512 3)
    p=$(echo "$peak" | sed -E 's/.*: ([0-9.]+) GFLOP.*/\1/')
    g=$(echo "$pf" | sed -E 's/.*tok\/s, ([0-9.]+) GFLOP.*/\1/')
    echo "$th thread(s): $peak; $pf"
    awk -v g="$g" -v p="$p" -v t="$th" 'BEGIN { printf "%s thread(s): prefill MFU %.0f%% of the sgemm peak\n", t, 100 * g / p }'
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
