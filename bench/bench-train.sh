#!/bin/bash
# bench-train.sh - miso-train speed, in one run on this machine:
#   1. the sgemm peak (lib/matmul, OpenMP OpenBLAS, all threads);
#   2. miso-train --synthetic tokens/s, MFU and peak memory for `small` (seq 256,
#      batch 8) and `mid` (seq 512, batch 4) SFT, beside the same configurations
#      in PyTorch (bench/torch_train.py: Debian's python3-torch, 2 threads, the
#      OpenMP OpenBLAS through LD_LIBRARY_PATH = trainer-notes §3.2 variant B);
#   3. a MISO-para step on Crab-shaped samples (one full instruction, 3-6
#      single-constraint inputs, a bare one, a 300-token output) against plain
#      SFT on the same samples expanded into separate sequences (tiny preset,
#      byte tokenizer, same model and data).
# MFU = tokens/s x FLOP/token / sgemm peak, FLOP/token = 6 N_matmul + 12 L T (H hd)
# as in the notes.  Set BENCH_STEPS to change the number of steps (default 6).
set -u
cd "$(dirname "$0")/.." || exit 2
B=${MISO_BUILD:-build}
OUT=bench/out/train
mkdir -p "$OUT"
[ -f "$B/libmiso.a" ] || make -s all || exit 1
export PATH="$PWD/$B/bin:$PATH"
STEPS=${BENCH_STEPS:-6}
cc -std=c11 -O2 -D_GNU_SOURCE -fopenmp -Ilib bench/sgemm-peak.c "$B/libmiso.a" \
    $(pkg-config --libs openblas) -lm -o "$OUT/sgemm-peak" || exit 1
# The peak is the best of three measurements: on a shared machine one of
# them is usually taken while the other processes sleep.
peak=0
for _ in 1 2 3; do
    peak_line=$("$OUT/sgemm-peak")
    p=$(sed -E 's/.*: ([0-9.]+) GFLOP.*/\1/' <<<"$peak_line")
    awk -v a="$p" -v b="$peak" 'BEGIN { exit !(a > b) }' && peak=$p
    sleep 1
done
echo "sgemm peak (best of 3): $peak GFLOP/s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
OMPBLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp
field() { sed -E "s/.*\"$1\":\"?([^,\"}]*).*/\1/" <<<"$2"; }

for cfg in "small 256 8" "mid 512 4"; do
    for th in ${BENCH_THREADS:-1 2}; do
        set -- $cfg
        ours=$(miso-train --preset "$1" --synthetic --seq "$2" -b "$3" -m "$3" --steps "$STEPS" -t "$th" -q)
        theirs=$(LD_LIBRARY_PATH=$OMPBLAS OMP_NUM_THREADS=$th /usr/bin/python3 bench/torch_train.py "$1" "$2" "$3" "$STEPS" "$th" 2>/dev/null)
        o=$(field tokens_per_s "$ours"); t=$(field tokens_per_s "$theirs"); fpt=$(field flops_per_token "$ours")
        awk -v n="$1" -v th="$th" -v o="$o" -v t="${t:-0}" -v f="$fpt" -v p="$peak" -v mo="$(field peak_rss_mb "$ours")" \
            -v mt="$(field peak_rss_mb "$theirs")" 'BEGIN {
            printf "%-5s %d thr  miso-train %7.1f tok/s  MFU %4.1f%%  RSS %s MB | pytorch %7.1f tok/s  MFU %4.1f%%  RSS %s MB | ratio %.2fx\n",
                n, th, o, 100 * o * f / 1e9 / p, mo, t, 100 * t * f / 1e9 / p, mt, (t > 0 ? o / t : 0) }'
    done
done
echo "(MFU against the all-thread sgemm peak above; the 1-thread rows are best read against about half of it)"

# The same mid comparison in process CPU time at one thread, which a busy shared
# machine distorts far less than wall time: per-step CPU = (4-step run - 1-step
# run) / 3, against the 1-thread sgemm peak of bench/sgemm-shapes.c, also in CPU
# time.  BENCH_CPU=0 skips it (about 2.5 CPU-minutes).
if [ "${BENCH_CPU:-1}" != 0 ]; then
    cc -std=c11 -O2 -D_GNU_SOURCE -fopenmp -Ilib bench/sgemm-shapes.c "$B/libmiso.a" \
        $(pkg-config --libs openblas) -lm -o "$OUT/sgemm-shapes" || exit 1
    OMP_NUM_THREADS=1 "$OUT/sgemm-shapes" >"$OUT/sgemm-shapes.txt" || exit 1
    cpeak=$(sed -nE 's/^square NT 1024\^3 +([0-9.]+) GFLOP.*/\1/p' "$OUT/sgemm-shapes.txt")
    cpu() { local TIMEFORMAT='%3U %3S'; { time "$@" >/dev/null 2>&1; } 2>&1 | awk '{ print $1 + $2 }'; }
    ours() { OMP_NUM_THREADS=1 miso-train --preset mid --synthetic --seq 512 -b 4 -m 4 --steps "$1" -t 1 -q; }
    theirs() { LD_LIBRARY_PATH=$OMPBLAS OMP_NUM_THREADS=1 /usr/bin/python3 bench/torch_train.py mid 512 4 "$1" 1; }
    o1=$(cpu ours 1); o4=$(cpu ours 4); t1=$(cpu theirs 1); t4=$(cpu theirs 4)
    awk -v o1="$o1" -v o4="$o4" -v t1="$t1" -v t4="$t4" -v p="$cpeak" -v f=265027584 -v l="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
        o = (o4 - o1) / 3; t = (t4 - t1) / 3; mf = f * 2048 / 1e9
        printf "mid 1 thr, CPU time per step: miso-train %.2f s (MFU %.1f%%) | pytorch %.2f s (MFU %.1f%%) | ratio %.2fx; 1-thread CPU-time peak (1024^3) %s GFLOP/s; load %s\n",
            o, 100 * mf / o / p, t, 100 * mf / t / p, (o > 0 ? t / o : 0), p, l }'
fi

# MISO-para step vs expanded SFT on Crab-shaped samples
/usr/bin/python3 - "$OUT" <<'PY'
import json, random, sys
r = random.Random(1)
def text(n):
    return "".join(r.choice("abcdefghij klmnop qrstu vwxyz") for _ in range(n))
with open(sys.argv[1] + "/para.jsonl", "w") as fp, open(sys.argv[1] + "/sft.jsonl", "w") as fs:
    for i in range(32):
        base = text(120)
        cons = [text(50) for _ in range(r.randint(3, 6))]
        inputs = [base + " " + " ".join(cons)] + [base + " " + c for c in cons] + [base]
        out = text(300)
        fp.write(json.dumps({"id": "p%d" % i, "mode": "para", "inputs": inputs, "output": out}) + "\n")
        for j, x in enumerate(inputs):
            fs.write(json.dumps({"id": "s%d-%d" % (i, j), "mode": "sft", "inputs": [x], "output": out}) + "\n")
PY
miso-pack -q --tokenizer byte --template plain -o "$OUT/para.pack" "$OUT/para.jsonl" || exit 1
miso-pack -q --tokenizer byte --template plain -o "$OUT/sft.pack" "$OUT/sft.jsonl" || exit 1
nsft=$(wc -l <"$OUT/sft.jsonl")
bs=$(( (nsft + 3) / 4 ))
miso-train -q --preset tiny -b 8 -m 8 --steps 4 -o "$OUT/para-run" "$OUT/para.pack" || exit 1
miso-train -q --preset tiny -b "$bs" -m 8 --steps 4 -o "$OUT/sft-run" "$OUT/sft.pack" || exit 1
steptime() { awk -F'[:,}]' '{ for (i = 1; i < NF; i++) { if ($i == "\"tokens\"") t = $(i+1); if ($i == "\"tokens_per_s\"") s = $(i+1) }
    if (NR > 1) tot += t / s } END { printf "%.3f", tot / (NR - 1) }' "$1"; }
tp=$(steptime "$OUT/para-run/train_log.jsonl"); ts=$(steptime "$OUT/sft-run/train_log.jsonl")
awk -v a="$tp" -v b="$ts" -v n="$nsft" -v l="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN { printf "MISO-para step (8 Crab-shaped samples): %.3f s; the same samples as %d/4 SFT sequences: %.3f s; ratio %.2f (wall, all threads; load %s)\n", a, n, b, a / b, l }'
# The same pair in process CPU time at one thread (per step = (4-step run -
# 1-step run) / 3, as for mid above), which a loaded machine distorts far
# less than the wall figure.  BENCH_CPU=0 skips it (about 40 CPU-seconds).
if [ "${BENCH_CPU:-1}" != 0 ]; then
    pcpu() { local TIMEFORMAT='%3U %3S'; { time OMP_NUM_THREADS=1 miso-train -q --preset tiny -b "$1" -m 8 --steps "$2" -t 1 \
        -o "$OUT/cpu-run" "$3" >/dev/null 2>&1; } 2>&1 | awk '{ print $1 + $2 }'; }
    p1=$(pcpu 8 1 "$OUT/para.pack"); p4=$(pcpu 8 4 "$OUT/para.pack")
    s1=$(pcpu "$bs" 1 "$OUT/sft.pack"); s4=$(pcpu "$bs" 4 "$OUT/sft.pack")
    awk -v p1="$p1" -v p4="$p4" -v s1="$s1" -v s4="$s4" -v n="$nsft" -v l="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
        p = (p4 - p1) / 3; s = (s4 - s1) / 3
        printf "MISO-para step, 1 thr CPU time: %.3f s; %d/4 SFT sequences: %.3f s; ratio %.2f (load %s)\n", p, n, s, (s > 0 ? p / s : 0), l }'
fi
