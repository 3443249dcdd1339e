#!/bin/bash
# flatten.sh - ifeval-flatten: the shipped IFEval-Flatten file regenerates
# byte for byte, --base mode, bad input, and the records score under
# ifeval-score (and feed miso-report).
set -u
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "PASS: $1"; }
bad() { failed=$((failed + 1)); echo "FAIL: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$MISO_TOP/datasets/ifeval

ifeval-flatten -o "$T/flat.jsonl" 2>"$T/err"
rc=$?
check "regenerates without error" '[ $rc = 0 ]'
check "regenerating gives the committed datasets/ifeval/ifeval_flatten.jsonl byte for byte" 'cmp -s "$T/flat.jsonl" "$D/ifeval_flatten.jsonl"'
check "reports 541 prompts -> 834 records with no unresolved one" 'grep -q "541 prompts -> 834 records (305 single, .* 0 unresolved)" "$T/err"'
check "uses every hand-written override" '! grep -q "was not used" "$T/err"'
ifeval-flatten -q - <"$D/input_data.jsonl" >"$T/stdin.jsonl" 2>"$T/err"
check "reads standard input and writes standard output quietly" 'cmp -s "$T/stdin.jsonl" "$D/ifeval_flatten.jsonl" && [ ! -s "$T/err" ]'
check "is deterministic across runs" 'ifeval-flatten -q | cmp -s - "$T/flat.jsonl"'
gzip -c "$D/input_data.jsonl" >"$T/in.jsonl.gz"
check "reads gzip input" 'ifeval-flatten -q "$T/in.jsonl.gz" | cmp -s - "$T/flat.jsonl"'

# --- --base: constraint-free prompts + the constraint's own wording
ifeval-flatten --base "$D/ifeval_wo_instructions.jsonl" -o "$T/base.jsonl" 2>"$T/err"
rc=$?
check "--base with ifeval_wo_instructions.jsonl gives 834 records" '[ $rc = 0 ] && [ "$(wc -l <"$T/base.jsonl")" = 834 ]'
python3 - "$T/base.jsonl" "$D/ifeval_wo_instructions.jsonl" >"$T/base.txt" <<'EOF'
import json, sys
base = {}
for l in open(sys.argv[2]):
    r = json.loads(l)
    base[str(r["key"])] = r["model_output"].strip()
bad = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    b = base[str(r["source_key"])]
    kw = r["kwargs"][0]
    if r["derivation"] != "base" or b not in r["prompt"]:
        bad += 1
    elif r["instruction_id_list"][0] == "combination:repeat_prompt":
        bad += kw.get("prompt_to_repeat") != b
    elif not r["prompt"].startswith(b) or len(r["prompt"]) <= len(b):
        bad += 1
print(bad)
EOF
check "--base prompts start with the base text and add the constraint (repeat_prompt repeats the base text)" '[ "$(cat "$T/base.txt")" = 0 ]'

# --- scored by ifeval-score, summarised by miso-report
if command -v ifeval-score >/dev/null 2>&1; then
    # responses that follow every repeat_prompt record exactly
    python3 - "$T/flat.jsonl" >"$T/resp.jsonl" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    kw = r["kwargs"][0]
    resp = kw.get("prompt_to_repeat", "A short answer.") + "\n\nThat is the answer."
    print(json.dumps({"key": r["key"], "prompt": r["prompt"], "response": resp}))
EOF
    ifeval-score -q -i "$T/flat.jsonl" -r "$T/resp.jsonl" -d "$T/sc" -s "$T/sum.json" >/dev/null 2>"$T/err"
    rc=$?
    check "every IFEval-Flatten record scores under ifeval-score" '[ $rc = 0 ] && [ "$(wc -l <"$T/sc/eval_results_strict.jsonl")" = 834 ]'
    check "repeat_prompt kwargs match the prompt: echoing prompt_to_repeat passes all 41" \
        'python3 -c "import json,sys; d=json.load(open(sys.argv[1]))[\"per_instruction\"][\"combination:repeat_prompt\"]; sys.exit(not (d[\"n\"] == 41 and d[\"strict\"] == 1.0))" "$T/sum.json"'
    check "miso-report takes the IFEval-Flatten summary" 'miso-report -r "x:$T/sum.json:$T/sum.json" --csv - --no-markdown | grep -q "^x,"'
else
    bad "ifeval-score is built"
fi

# --- bad input
printf '{"key": 1, "prompt": "Write a 300+ word essay without commas.", "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"], "kwargs": [{}, {"relation": "at least", "num_words": 300}]}\n' >"$T/hard.jsonl"
ifeval-flatten --no-overrides "$T/hard.jsonl" >"$T/out" 2>"$T/err"; rc=$?
check "fails with FILE:LINE and key when the rules cannot settle a constraint" '[ $rc = 1 ] && grep -qx "ifeval-flatten: $T/hard.jsonl:1: key 1 index 0 (punctuation:no_comma): rules cannot settle it (the task sentence carries another constraint); add an override" "$T/err"'
ifeval-flatten --no-overrides --allow-unresolved -q "$T/hard.jsonl" >"$T/out" 2>"$T/err"; rc=$?
check "--allow-unresolved emits the prompt unchanged marked unresolved, with the reason" '[ $rc = 0 ] && [ "$(grep -c "\"derivation\":\"unresolved\",\"removed\":\[\],\"reason\":" "$T/out")" = 2 ]'
printf '{"key": 1, "index": 0, "prompt": "Write an essay without commas."}\n' >"$T/ov.jsonl"
ifeval-flatten --overrides "$T/ov.jsonl" --allow-unresolved -q "$T/hard.jsonl" >"$T/out" 2>"$T/err"
check "takes an override file and marks the record as override" 'grep -q "\"key\":\"1-0\",\"prompt\":\"Write an essay without commas.\".*\"derivation\":\"override\"" "$T/out"'
printf '{"key": 1, "index": 0, "prompt": "a"}\n{"key": 1, "index": 0, "prompt": "b"}\n' >"$T/dup.jsonl"
ifeval-flatten --overrides "$T/dup.jsonl" "$T/hard.jsonl" >/dev/null 2>"$T/err"; rc=$?
check "rejects a duplicate override naming line 2" '[ $rc = 1 ] && grep -qx "ifeval-flatten: $T/dup.jsonl:2: duplicate override for key 1 index 0" "$T/err"'
printf '{"key": 5, "prompt": "x", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}\n{"key": 6, "prompt": "y"\n' | ifeval-flatten - >/dev/null 2>"$T/err"; rc=$?
check "rejects malformed JSON on standard input naming <stdin>:2" '[ $rc = 1 ] && grep -q "^ifeval-flatten: <stdin>:2: " "$T/err"'
printf '{"key": 7, "prompt": "x", "instruction_id_list": ["a", "b"], "kwargs": [{}]}\n' | ifeval-flatten - >/dev/null 2>"$T/err"; rc=$?
check "rejects kwargs of the wrong length" '[ $rc = 1 ] && grep -qx "ifeval-flatten: <stdin>:1: key 7: '"'"'kwargs'"'"' and '"'"'instruction_id_list'"'"' differ in length" "$T/err"'
printf '{"key": 8, "prompt": "Say hi.", "instruction_id_list": ["punctuation:no_comma", "detectable_format:title"], "kwargs": [{}, {}]}\n' | ifeval-flatten --base "$T/nope.jsonl" - >/dev/null 2>"$T/err"; rc=$?
check "fails on a missing base file" '[ $rc = 1 ] && grep -q "nope.jsonl" "$T/err"'
printf '{"key": 9, "model_output": "Say hi."}\n' >"$T/b.jsonl"
printf '{"key": 8, "prompt": "Say hi.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}\n' | ifeval-flatten --base "$T/b.jsonl" - >/dev/null 2>"$T/err"; rc=$?
check "fails when a key is not in the base file" '[ $rc = 1 ] && grep -qx "ifeval-flatten: <stdin>:1: key 8 is not in the base file" "$T/err"'
ifeval-flatten --bogus >/dev/null 2>&1; rc=$?
check "exits 2 on an unknown option" '[ $rc = 2 ]'
ifeval-flatten a b >/dev/null 2>&1; rc=$?
check "exits 2 on two input files" '[ $rc = 2 ]'
check "--help prints usage to stdout" 'ifeval-flatten --help | grep -q "^usage: ifeval-flatten"'
check "--version prints the project version" '[ "$(ifeval-flatten --version)" = "ifeval-flatten (miso) 0.1" ]'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
