#!/bin/bash
# bench-ifeval.sh - ifeval-score speed: the 541 official GPT-4 dev responses
# scored strict + loose end to end (start-up, reading, both result files and
# the report), best of 5; then responses per second on a 100x larger set
# (54,100 prompts with unique keys, each response matched by key).
#
# The official Python scorer (google-research instruction_following_eval) is
# not packaged in Debian or npm.  If $IFEVAL_OFFICIAL points at a directory
# holding a reconstruction of it (the package instruction_following_eval/, with
# nltk, langdetect and absl importable), it is timed on the same files and the
# ratio printed; otherwise the ratio is taken against its documented time on
# this machine, 2.0 s end to end (datasets/ifeval/dev/README.md §8).
set -u
cd "$(dirname "$0")/.." || exit 2
export PATH="${MISO_BIN:-$PWD/build/bin}:$PATH"
IN=datasets/ifeval/input_data.jsonl
R=datasets/ifeval/dev/input_response_data_gpt4_20231107_145030.key2785_prompt_fixed.jsonl
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

best() { # command... -> "wall cpu" of the fastest of 5 runs (seconds)
    local out
    out=$(for _ in 1 2 3 4 5; do
        TIMEFORMAT='%R %U %S'
        { time "$@" >/dev/null 2>&1; } 2>&1
    done | awk '{ c = $2 + $3; if (NR == 1 || $1 < w) { w = $1; cpu = c } } END { printf "%.4f %.4f", w, cpu }')
    echo "$out"
}

read -r miso miso_cpu < <(best ifeval-score -q --input $IN --responses $R --output-dir "$T/o")
echo "ifeval-score, 541 GPT-4 responses, strict + loose, end to end: ${miso} s wall, ${miso_cpu} s CPU (fastest of 5; load $(cut -d' ' -f1 /proc/loadavg))"
if [ -n "${IFEVAL_OFFICIAL:-}" ] && [ -d "$IFEVAL_OFFICIAL/instruction_following_eval" ]; then
    read -r off off_cpu < <(cd "$IFEVAL_OFFICIAL" && best python3 -m instruction_following_eval.evaluation_main \
        --input_data="$OLDPWD/$IN" --input_response_data="$OLDPWD/$R" --output_dir="$T/off")
    echo "official Python scorer, same files: ${off} s wall, ${off_cpu} s CPU (fastest of 5)"
else
    off=2.0
    echo "official Python scorer: not installed here; documented 2.0-2.6 s end to end on this machine (using 2.0)"
fi
awk -v o="$off" -v m="$miso" 'BEGIN { printf "ratio (wall): %.1fx\n", o / m }'
# CPU time is steadier than wall time on a shared machine: the documented
# official run takes 1.8-2.2 s of user CPU (using 1.8).
awk -v o="${off_cpu:-1.8}" -v m="$miso_cpu" 'BEGIN { printf "ratio (CPU): %.1fx\n", o / m }'

# 100x: unique keys so every one of the 54,100 prompts is scored.
python3 - $IN $R "$T/in100.jsonl" "$T/r100.jsonl" <<'EOF'
import json, sys
ins = [json.loads(l) for l in open(sys.argv[1])]
rs = [json.loads(l) for l in open(sys.argv[2])]
with open(sys.argv[3], "w") as fi, open(sys.argv[4], "w") as fr:
    for rep in range(100):
        for p, r in zip(ins, rs):
            k = "%d-%d" % (p["key"], rep)
            fi.write(json.dumps(dict(p, key=k)) + "\n")
            fr.write(json.dumps({"key": k, "prompt": r["prompt"], "response": r["response"]}) + "\n")
EOF
TIMEFORMAT='%R %U %S'
read -r w u sy < <({ time ifeval-score -q --input "$T/in100.jsonl" --responses "$T/r100.jsonl" --output-dir "$T/o100" >/dev/null 2>&1; } 2>&1)
awk -v w="$w" -v c="$(awk -v u="$u" -v s="$sy" 'BEGIN { print u + s }')" -v t="$(nproc)" 'BEGIN {
    printf "ifeval-score, 54,100 responses (100x), strict + loose: %.2f s wall, %.2f s CPU, %.0f responses/s (%d threads)\n", w, c, 54100 / w, t }'
printf 'official scorer at its documented ~1 s of scoring per 541: ~541 responses/s\n'
