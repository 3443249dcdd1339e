#!/bin/bash
# ifeval.sh - ifeval-score against the official google-research scorer's own
# outputs on the development set (datasets/ifeval/dev/, see its README.md),
# and the program's behaviour (matching, summary, explain, input variants).
#
# Exactness: on the 541 official GPT-4 responses the two eval_results files
# must be byte-identical to the official ones and the report identical but
# for the output path; on the five 100-prompt subsets every instruction must
# agree, strict and loose, except positions listed in
# langdetect_unstable_indices.
set -u
cd "${MISO_TOP:-$(dirname "$0")/../..}" || exit 2
export PATH="${MISO_BIN:-$PWD/build/bin}:$PATH"
D=datasets/ifeval/dev
IN=datasets/ifeval/input_data.jsonl
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "PASS: $1"; }
ko() { failed=$((failed + 1)); echo "FAIL: $1"; }
check() { # description, command...
    local d=$1; shift
    if "$@"; then ok "$d"; else ko "$d"; fi
}

# ---------------------------------------------------------------- GPT-4, all 541
ifeval-score --input "$IN" --responses $D/input_response_data_gpt4_20231107_145030.jsonl \
    --output-dir "$T/run1" >"$T/report" 2>"$T/err"
rc=$?
check "scores the verbatim official GPT-4 file (old key-2785 prompt text) with exit 0" [ $rc = 0 ]
check "writes eval_results_strict.jsonl byte-identical to the official scorer's" \
    cmp -s "$T/run1/eval_results_strict.jsonl" $D/eval_results_strict_gpt4.jsonl
check "writes eval_results_loose.jsonl byte-identical to the official scorer's" \
    cmp -s "$T/run1/eval_results_loose.jsonl" $D/eval_results_loose_gpt4.jsonl
sed "s#^$T/run1/#./out/run1/#" "$T/report" >"$T/report.norm"
check "prints the official report (floats as Python repr), identical but for the output path" \
    cmp -s "$T/report.norm" $D/evaluation_main_report_gpt4.txt
check "names the key-2785 response whose prompt text is the older wording" \
    grep -q "input_response_data_gpt4_20231107_145030.jsonl:340: prompt text differs from the input prompt with key 2785 (line 340)" "$T/err"

ifeval-score -q --input "$IN" --responses $D/input_response_data_gpt4_20231107_145030.key2785_prompt_fixed.jsonl \
    --output-dir "$T/run2" >"$T/report2" 2>"$T/err2"
check "the aligned response file gives the same files, silently" \
    sh -c "cmp -s '$T/run2/eval_results_strict.jsonl' $D/eval_results_strict_gpt4.jsonl && cmp -s '$T/run2/eval_results_loose.jsonl' $D/eval_results_loose_gpt4.jsonl && [ ! -s '$T/err2' ]"

ifeval-score --exact-match --responses $D/input_response_data_gpt4_20231107_145030.jsonl >/dev/null 2>"$T/exact.err"
rc=$?
check "--exact-match leaves the stale key-2785 prompt unmatched (exit 1, its line named)" \
    sh -c "[ $rc = 1 ] && grep -q 'input_data.jsonl:340: no response for the prompt with key 2785' '$T/exact.err'"

# ---------------------------------------------------------------- five models, 100 prompts
cat >"$T/cmp.py" <<'EOF'
import json, sys
mine = [json.loads(l) for l in open(sys.argv[1])]
ref = [json.loads(l) for l in open(sys.argv[2])]
assert len(mine) == len(ref), (len(mine), len(ref))
bad = 0
for m, r in zip(mine, ref):
    assert m["instruction_id_list"] == r["instruction_id_list"]
    for i, (a, b) in enumerate(zip(m["follow_instruction_list"], r["follow_instruction_list"])):
        if a != b and i not in r["langdetect_unstable_indices"]:
            bad += 1
            print("key %s position %d %s: got %s, official %s" % (r["key"], i, r["instruction_id_list"][i], a, b))
sys.exit(1 if bad else 0)
EOF
for m in gemma gpt4 gpt4o llama3 mistral; do
    ifeval-score -q --input $D/input_data_subset100.jsonl \
        --responses $D/extra_subset_responses/responses_$m.jsonl --output-dir "$T/$m" >/dev/null 2>&1
    for mode in strict loose; do
        check "$m: every $mode instruction result agrees with the official scorer (100 prompts)" \
            python3 "$T/cmp.py" "$T/$m/eval_results_$mode.jsonl" $D/extra_subset_responses/reference_${mode}_$m.jsonl
    done
done
check "the GPT-4 full-set results agree with reference_strict_gpt4.jsonl too" \
    python3 "$T/cmp.py" "$T/run1/eval_results_strict.jsonl" $D/reference_strict_gpt4.jsonl

# ---------------------------------------------------------------- summary and explain
R=$D/input_response_data_gpt4_20231107_145030.key2785_prompt_fixed.jsonl
ifeval-score -q --responses $R --summary "$T/sum.json" --output-dir "$T/x" --explain >"$T/rep3"
check "--input defaults to the shipped IFEval prompts" \
    cmp -s <(sed "s#^$T/x/##" "$T/rep3") <(sed "s#^$T/run2/##" "$T/report2")
check "--summary has the lm-eval metric names and the official numbers" python3 - "$T/sum.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["prompt_level_strict_acc"] == 417 / 541 and s["inst_level_strict_acc"] == 698 / 834
assert s["prompt_level_loose_acc"] == 431 / 541 and s["inst_level_loose_acc"] == 714 / 834
assert s["n_prompts"] == 541 and s["n_instructions"] == 834
assert len(s["per_instruction"]) == 25 and len(s["per_category"]) == 9
pi = s["per_instruction"]["punctuation:no_comma"]
assert pi == {"n": 66, "strict": 44 / 66, "loose": 48 / 66}, pi
assert s["per_category"]["keywords"]["n"] == 163
assert s["input"].endswith("datasets/ifeval/input_data.jsonl") and s["responses"].endswith(".jsonl")
EOF
check "--explain keeps the official files byte-identical" \
    cmp -s "$T/x/eval_results_strict.jsonl" $D/eval_results_strict_gpt4.jsonl
check "--explain gives a reason for every failed check and null for the others" python3 - "$T/x" <<'EOF'
import json, sys
d = sys.argv[1]
ex = [json.loads(l) for l in open(d + "/eval_explain.jsonl")]
for mode in ("strict", "loose"):
    res = [json.loads(l) for l in open(d + "/eval_results_%s.jsonl" % mode)]
    assert len(ex) == len(res) == 541
    for e, r in zip(ex, res):
        for ok, why in zip(r["follow_instruction_list"], e[mode + "_reasons"]):
            assert (why is None) == ok, (e, r["follow_instruction_list"])
first = ex[0]
assert first["key"] == 1000 and "found 288 words, need at least 300" in first["strict_reasons"][2], first
EOF

# ---------------------------------------------------------------- input variants
python3 - "$IN" "$T/hf.jsonl" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
names = sorted({k for r in rows for kw in r["kwargs"] for k in kw})
with open(sys.argv[2], "w") as f:
    for r in rows:
        r["kwargs"] = [{n: kw.get(n) for n in names} for kw in r["kwargs"]]
        f.write(json.dumps(r) + "\n")
EOF
ifeval-score -q --input "$T/hf.jsonl" --responses $R --output-dir "$T/hf" >/dev/null
check "the Hugging Face copy (every kwarg, null when unused) scores the same" \
    cmp -s "$T/hf/eval_results_loose.jsonl" $D/eval_results_loose_gpt4.jsonl

python3 - "$IN" $R "$T/flat_in.jsonl" "$T/flat_resp.jsonl" <<'EOF'
import json, sys
ins = [json.loads(l) for l in open(sys.argv[1])]
resp = [json.loads(l) for l in open(sys.argv[2])]
with open(sys.argv[3], "w") as fi, open(sys.argv[4], "w") as fr:
    for r, a in zip(ins, resp):
        for j, (iid, kw) in enumerate(zip(r["instruction_id_list"], r["kwargs"])):
            key = "%d-%d" % (r["key"], j)
            fi.write(json.dumps({"key": key, "source_key": r["key"], "prompt": r["prompt"] + " (part %d)" % j,
                                 "instruction_id_list": [iid], "kwargs": [kw], "derivation": "test"}) + "\n")
            fr.write(json.dumps({"key": key, "prompt": "stale text", "response": a["response"]}) + "\n")
EOF
ifeval-score --input "$T/flat_in.jsonl" --responses "$T/flat_resp.jsonl" --summary "$T/flat.json" >/dev/null 2>"$T/flat.err"
check "IFEval-Flatten-style string keys match responses by key (834 single-instruction prompts)" python3 - "$T/flat.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["n_prompts"] == 834 and s["inst_level_strict_acc"] == 698 / 834, s
EOF
check "warns once when responses matched by key carry another prompt text" \
    sh -c "[ \$(wc -l <'$T/flat.err') = 1 ] && grep -q 'matched by \"key\" carry a different prompt text' '$T/flat.err'"

gzip -c $R >"$T/r.jsonl.gz"
ifeval-score -q --responses - <"$T/r.jsonl.gz" --output-dir "$T/gz" >/dev/null
check "reads gzip-compressed responses from standard input" \
    cmp -s "$T/gz/eval_results_strict.jsonl" $D/eval_results_strict_gpt4.jsonl

ifeval-score -q --compat lm-eval-2023 --responses $R --summary "$T/old.json" >/dev/null
check "--compat lm-eval-2023 differs at most in the two random-letter instructions" python3 - "$T/old.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert 696 <= round(s["inst_level_strict_acc"] * 834) <= 698, s["inst_level_strict_acc"]
assert s["per_instruction"]["keywords:letter_frequency"]["n"] == 33
EOF

head -n 20 $R >"$T/part.jsonl"
ifeval-score -q --responses "$T/part.jsonl" >/dev/null 2>"$T/miss.err"
rc=$?
check "a prompt without a response fails with its line (exit 1)" \
    sh -c "[ $rc = 1 ] && grep -q 'input_data.jsonl:21: no response for the prompt with key' '$T/miss.err'"
ifeval-score --allow-missing --responses "$T/part.jsonl" --summary "$T/miss.json" >/dev/null 2>"$T/miss2.err"
check "--allow-missing scores missing responses as empty and says how many" \
    sh -c "grep -q '^ifeval-score: 521 prompt(s) without a response' '$T/miss2.err' && grep -q '\"n_prompts\": 541' '$T/miss.json'"

# ---------------------------------------------------------------- runaway guard
python3 - "$T/patho_in.jsonl" "$T/patho_resp.jsonl" <<'EOF2'
import json, sys
ids = [("detectable_format:number_bullet_lists", {"num_bullets": 1}),
       ("detectable_content:number_placeholders", {"num_placeholders": 1}),
       ("detectable_format:number_highlighted_sections", {"num_highlights": 1}),
       ("length_constraints:number_paragraphs", {"num_paragraphs": 2}),
       ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "at least"}),
       ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"}),
       ("keywords:forbidden_words", {"forbidden_words": ["zzz"]}),
       ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2}),
       ("language:response_language", {"language": "en"}), ("detectable_format:title", {}),
       ("detectable_content:postscript", {"postscript_marker": "P.S."}),
       ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "a"}),
       ("detectable_format:json_format", {}), ("combination:two_responses", {})]
resps = {"newlines": "x" + " \n" * 500000 + "x", "stars": "*" * 1000000, "brackets": "[" * 1000000,
         "spaces": "\t" * 1000000, "words": "A " * 500000, "section": "SECTION " * 125000,
         "angles": "<<" * 500000, "mixed": "*\n" * 500000, "ps": "p. " * 330000}
with open(sys.argv[1], "w") as f, open(sys.argv[2], "w") as g:
    for k, (name, r) in enumerate(resps.items()):
        p = "pathological " + name
        f.write(json.dumps({"key": k, "prompt": p, "instruction_id_list": [i for i, _ in ids],
                            "kwargs": [kw for _, kw in ids]}) + "\n")
        g.write(json.dumps({"prompt": p, "response": r}) + "\n")
EOF2
timeout 60 ifeval-score -q --input "$T/patho_in.jsonl" --responses "$T/patho_resp.jsonl" --output-dir "$T/patho" >/dev/null
check "nine pathological 1 MB responses (runs of *, [, <<, blank lines) x 14 checks finish (60 s cap)" [ $? = 0 ]

# ---------------------------------------------------------------- program conventions
check "--version prints 'ifeval-score (miso) 0.1'" sh -c "[ \"\$(ifeval-score --version)\" = 'ifeval-score (miso) 0.1' ]"
check "--help goes to stdout with exit 0" sh -c "ifeval-score --help | grep -q -- '--responses'"
ifeval-score --bogus >/dev/null 2>&1
check "an unknown option is a usage error (exit 2)" [ $? = 2 ]
ifeval-score --explain --responses $R >/dev/null 2>&1
check "--explain without --output-dir is a usage error (exit 2)" [ $? = 2 ]
ifeval-score -q --responses $R --output-dir "$T/again" >/dev/null && ifeval-score -q --responses $R --output-dir "$T/again2" >/dev/null
check "two runs give identical files (deterministic langdetect seed)" \
    cmp -s "$T/again/eval_results_loose.jsonl" "$T/again2/eval_results_loose.jsonl"
OMP_NUM_THREADS=1 ifeval-score -q --responses $R --output-dir "$T/one" >/dev/null
OMP_NUM_THREADS=3 ifeval-score -q --responses $R --output-dir "$T/three" >/dev/null
check "results do not depend on the number of threads (1 and 3)" \
    sh -c "cmp -s '$T/one/eval_results_loose.jsonl' '$T/again/eval_results_loose.jsonl' && cmp -s '$T/three/eval_results_strict.jsonl' '$T/again/eval_results_strict.jsonl'"

# ---------------------------------------------------------------- response files read as Python reads them
E=tests/e2e/ifeval-score-nul-surrogate
/usr/bin/python3 - $E/resp.jsonl "$T/py" <<'PYEOF'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
d = sys.argv[2]
open(d + ".array.json", "w").write("\n[\n" + ",\n".join("  " + json.dumps(r) for r in rs) + "\n]\n")
open(d + ".crlf.jsonl", "w", newline="").write("".join(json.dumps(r) + "\r\n" for r in rs))
open(d + ".dumps", "w").write("".join(json.dumps(r["response"]) + "\n" for r in rs))
PYEOF
ifeval-score -q --input $E/in.jsonl --responses $E/resp.jsonl --output-dir "$T/ns" >/dev/null
check "writes responses holding \\u0000 and lone surrogates back exactly as Python's json.dumps" \
    cmp -s "$T/py.dumps" <(sed 's/.*"response": //; s/}$//' "$T/ns/eval_results_strict.jsonl")
ifeval-score -q --input $E/in.jsonl --responses "$T/py.array.json" --output-dir "$T/nsa" >/dev/null
check "a JSON-array response file with the same records gives the same results" \
    cmp -s "$T/ns/eval_results_loose.jsonl" "$T/nsa/eval_results_loose.jsonl"
ifeval-score -q --input $E/in.jsonl --responses "$T/py.crlf.jsonl" --output-dir "$T/nsc" >/dev/null
check "CRLF response lines are read as Python's universal newlines read them" \
    cmp -s "$T/ns/eval_results_loose.jsonl" "$T/nsc/eval_results_loose.jsonl"
printf '{"key": 1, "response": "a\\ud80"}\n' >"$T/bad1.jsonl"
ifeval-score -q --input $E/in.jsonl --responses "$T/bad1.jsonl" >/dev/null 2>"$T/bad1.err"
check "a short \\u escape is malformed JSON with its line and column (exit 1)" \
    sh -c "[ $? = 1 ] && grep -q 'bad1.jsonl:1: malformed JSON at column 27' '$T/bad1.err'"
printf '{"key": 1, "response": "a\tb"}\n' >"$T/bad2.jsonl"
ifeval-score -q --input $E/in.jsonl --responses "$T/bad2.jsonl" >/dev/null 2>"$T/bad2.err"
check "a raw tab inside a string is refused as json.loads refuses it" \
    grep -q 'bad2.jsonl:1: malformed JSON at column 26' "$T/bad2.err"
printf '[{"key": 1, "response": "a"},\n {"key": 2, "response": "b"\n' >"$T/bad3.json"
ifeval-score -q --input $E/in.jsonl --responses "$T/bad3.json" >/dev/null 2>"$T/bad3.err"
check "a JSON-array response file cut short names the line of the unfinished element" \
    grep -q 'bad3.json:2: malformed JSON: unexpected end of record' "$T/bad3.err"

# ---------------------------------------------------------------- input files read as Python reads them
E=tests/e2e/ifeval-input-nul-surrogate
/usr/bin/python3 - $E/in.jsonl "$T/pin" <<'PYEOF'
import json, sys
ps = [json.loads(l) for l in open(sys.argv[1])]
d = sys.argv[2]
open(d + ".array.json", "w").write("[\n" + ",\n".join(json.dumps(p) for p in ps) + "\n]\n")
open(d + ".crlf.jsonl", "w", newline="").write("".join(json.dumps(p) + "\r\n" for p in ps))
open(d + ".dumps", "w").write("".join(json.dumps(p["prompt"]) + "\n" for p in ps))
PYEOF
ifeval-score -q --input $E/in.jsonl --responses $E/resp.jsonl --output-dir "$T/pi" >/dev/null
check "writes prompts holding \\u0000 and lone surrogates back exactly as Python's json.dumps" \
    cmp -s "$T/pin.dumps" <(sed 's/.*"prompt": //; s/, "response": .*//' "$T/pi/eval_results_loose.jsonl")
gzip -c $E/in.jsonl >"$T/pin.jsonl.gz"
ifeval-score -q --input "$T/pin.jsonl.gz" --responses $E/resp.jsonl --output-dir "$T/pig" >/dev/null
check "a gzip-compressed input file gives the same results" \
    cmp -s "$T/pi/eval_results_strict.jsonl" "$T/pig/eval_results_strict.jsonl"
ifeval-score -q --input "$T/pin.array.json" --responses $E/resp.jsonl --output-dir "$T/pia" >/dev/null
check "a JSON-array input file with the same records gives the same results" \
    cmp -s "$T/pi/eval_results_loose.jsonl" "$T/pia/eval_results_loose.jsonl"
ifeval-score -q --input "$T/pin.crlf.jsonl" --responses $E/resp.jsonl --output-dir "$T/pic" >/dev/null
check "CRLF input lines are read as Python's universal newlines read them" \
    cmp -s "$T/pi/eval_results_loose.jsonl" "$T/pic/eval_results_loose.jsonl"
printf '{"key": 1, "prompt": "a\tb", "instruction_id_list": [], "kwargs": []}\n' >"$T/pbad1.jsonl"
ifeval-score -q --input "$T/pbad1.jsonl" --responses $E/resp.jsonl >/dev/null 2>"$T/pbad1.err"
check "a raw tab inside an input prompt is refused as json.loads refuses it (exit 1)" \
    sh -c "[ $? = 1 ] && grep -q 'pbad1.jsonl:1: malformed JSON at column 24' '$T/pbad1.err'"
printf '{"key": 1, "prompt": "a\\udc0", "instruction_id_list": [], "kwargs": []}\n' >"$T/pbad2.jsonl"
ifeval-score -q --input "$T/pbad2.jsonl" --responses $E/resp.jsonl >/dev/null 2>"$T/pbad2.err"
check "a short \\u escape in an input prompt is malformed JSON with its line and column" \
    grep -q 'pbad2.jsonl:1: malformed JSON at column 25' "$T/pbad2.err"

printf '%s\n' '{"key": "k\u0000a", "prompt": "P", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}' \
    '{"key": "k\u0000b", "prompt": "P", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}' >"$T/pkey.jsonl"
printf '%s\n' '{"key": "k\u0000b", "response": "a, b"}' '{"key": "k\u0000a", "response": "ab"}' >"$T/pkey_resp.jsonl"
ifeval-score -q --input "$T/pkey.jsonl" --responses "$T/pkey_resp.jsonl" --output-dir "$T/pk" --explain >/dev/null
cat >"$T/pk.want" <<'EOF'
{"follow_all_instructions": true, "follow_instruction_list": [true], "instruction_id_list": ["punctuation:no_comma"], "prompt": "P", "response": "ab"}
{"follow_all_instructions": false, "follow_instruction_list": [false], "instruction_id_list": ["punctuation:no_comma"], "prompt": "P", "response": "a, b"}
{"key": "k\u0000a", "instruction_id_list": ["punctuation:no_comma"], "strict_reasons": [null], "loose_reasons": [null]}
{"key": "k\u0000b", "instruction_id_list": ["punctuation:no_comma"], "strict_reasons": ["found a comma"], "loose_reasons": ["found a comma (and in every loose variant)"]}
EOF
check "string keys holding \\u0000 are matched whole and written back in eval_explain.jsonl" \
    cmp -s "$T/pk.want" <(cat "$T/pk/eval_results_strict.jsonl" "$T/pk/eval_explain.jsonl")

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
