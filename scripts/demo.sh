#!/bin/bash
# demo.sh - `make demo`: the MISO pipeline end to end on the data shipped in
# datasets/, writing into out/demo/.  One stage per block, in pipeline order;
# each stage says what it wrote: samples -> packed file -> tiny model trained
# from scratch -> answers to IFEval prompts -> scores -> report.  No network.
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

# Stage 4: tokenise with the demo model's byte tokenizer into a packed file.
miso-pack -q --tokenizer byte --max-len 2048 -o "$OUT/train.pack" "$OUT/samples.jsonl"
say "wrote $OUT/train.pack (byte tokenizer, samples cut to 2048 positions)"

# Stage 5: train the embedded tiny model from scratch with MISO attention.
# From scratch it needs a far larger learning rate than the paper's 5e-6 fine-tuning default.
EPOCHS=${MISO_DEMO_EPOCHS:-1}
rm -rf "$OUT/model"
miso-train -q --preset tiny --attn miso --lr 1e-3 -b 8 -m 4 --epochs "$EPOCHS" -o "$OUT/model" "$OUT/train.pack"
say "wrote $OUT/model/ (HF directory) and $OUT/model/train_log.jsonl: $(lines "$OUT/model/train_log.jsonl") steps, loss $(head -1 "$OUT/model/train_log.jsonl" | sed 's/.*"loss":\([0-9.]*\).*/\1/') -> $(tail -1 "$OUT/model/train_log.jsonl" | sed 's/.*"loss":\([0-9.]*\).*/\1/')"

# Stage 6: answer a subset of IFEval and of IFEval-Flatten with the trained model (greedy).
N=${MISO_DEMO_PROMPTS:-20}
head -n "$N" datasets/ifeval/input_data.jsonl > "$OUT/ifeval_subset.jsonl"
head -n "$N" datasets/ifeval/ifeval_flatten.jsonl > "$OUT/flatten_subset.jsonl"
miso-gen -q --model "$OUT/model" --max-new-tokens 96 -o "$OUT/responses.jsonl" "$OUT/ifeval_subset.jsonl"
miso-gen -q --model "$OUT/model" --max-new-tokens 96 -o "$OUT/responses_flatten.jsonl" "$OUT/flatten_subset.jsonl"
say "wrote $OUT/responses.jsonl and $OUT/responses_flatten.jsonl ($N prompts each)"

# Stage 7: score them as the official IFEval scorer does.
ifeval-score -q --input "$OUT/ifeval_subset.jsonl" --responses "$OUT/responses.jsonl" \
    --output-dir "$OUT/ifeval" --summary "$OUT/ifeval_scores.json"
ifeval-score -q --input "$OUT/flatten_subset.jsonl" --responses "$OUT/responses_flatten.jsonl" \
    --output-dir "$OUT/flatten" --summary "$OUT/flatten_scores.json"
say "wrote $OUT/ifeval_scores.json and $OUT/flatten_scores.json"

# Stage 8: the paper-style report.
miso-report -q --run "tiny-miso:$OUT/ifeval_scores.json:$OUT/flatten_scores.json:$OUT/model/train_log.jsonl" \
    --title "miso demo: tiny model, MISO-para + succ" --csv "$OUT/report.csv" --html "$OUT/report.html" \
    -o "$OUT/report.md"
cat "$OUT/report.md"
say "report: $OUT/report.md, $OUT/report.html (a tiny byte-level model trained for minutes: the scores show that the pipeline runs, not the effect of MISO)"
