#!/bin/bash
# demo.sh - `make demo`: the MISO pipeline end to end on the data shipped in
# datasets/, writing into out/demo/.  One stage per block, in pipeline order;
# each stage says what it wrote.  (Until the trainer exists, the
# data-preparation stages only.)
set -eu
cd "$(dirname "$0")/.." || exit 2
B=${MISO_BUILD:-build}
export PATH="$PWD/$B/bin:$PATH"
OUT=out/demo
mkdir -p "$OUT"
say() { echo "demo: $*" >&2; }
lines() { wc -l < "$1" | tr -d ' '; }

# Stage 1: Crab multi-constraint records -> MISO-para samples.
crab-split -q datasets/crab/constraint_back_translation_sample.json -o "$OUT/para.jsonl"
say "wrote $OUT/para.jsonl: $(lines "$OUT/para.jsonl") para samples (full + one input per constraint + bare) from the 20 Crab records"

# Stage 2: the ShareGPT conversations -> MISO-succ samples (1-4 successive chunks).
miso-chunk -q datasets/sharegpt/dummy_conversation.json -o "$OUT/succ.jsonl"
say "wrote $OUT/succ.jsonl: $(lines "$OUT/succ.jsonl") succ samples from the ShareGPT sample"

# Stage 3: the training mix.
cat "$OUT/para.jsonl" "$OUT/succ.jsonl" > "$OUT/samples.jsonl"
say "wrote $OUT/samples.jsonl: $(lines "$OUT/samples.jsonl") samples, the input of miso-pack"
