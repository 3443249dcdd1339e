#!/bin/bash
# datatools.sh - whole-program checks of crab-split and miso-chunk: sharding
# gives the same output as one run, gzip input, atomic -o, --skip-bad.
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0 failed=0
ok() { if eval "$2"; then echo "PASS: $1"; passed=$((passed + 1)); else echo "FAIL: $1"; failed=$((failed + 1)); fi; }
D="$MISO_TOP/datasets"

# A JSONL mix of every shape: the Crab sample (as JSONL), ShareGPT, Alpaca, R1.
python3 - "$D" > "$T/mix.jsonl" <<'PY'
import json, sys
d = sys.argv[1]
for r in json.load(open(d + "/crab/constraint_back_translation_sample.json")): print(json.dumps(r, ensure_ascii=False))
for r in json.load(open(d + "/sharegpt/dummy_conversation.json"))[:200]: print(json.dumps(r))
for i in range(50):
    print(json.dumps({"instruction": "Write sentence %d about the sea and the sky." % i, "input": "", "output": "ok %d" % i,
                      "constraints": ["Use %d words." % (i + 3), "No commas.", "End with a question?"]}))
    print(json.dumps({"input": "Question %d: why is the sky blue at noon?" % i, "reasoning_content": "Think %d step by step." % i, "content": "Rayleigh."}))
PY
n=$(wc -l < "$T/mix.jsonl")

for prog in "crab-split --max-constraints 3" "miso-chunk"; do
    name=${prog%% *}
    $prog -q "$T/mix.jsonl" > "$T/one.jsonl"
    split -l 37 "$T/mix.jsonl" "$T/shard."
    : > "$T/cat.jsonl"
    for s in "$T"/shard.*; do $prog -q "$s" >> "$T/cat.jsonl"; done
    rm -f "$T"/shard.*
    ok "$name: sharding the input in 37-line pieces and concatenating gives the one-run output" "cmp -s '$T/one.jsonl' '$T/cat.jsonl'"
    $prog -q --seed 99 "$T/mix.jsonl" > "$T/seed.jsonl"
    ok "$name: another --seed changes the choices" "! cmp -s '$T/one.jsonl' '$T/seed.jsonl'"
    gzip -c "$T/mix.jsonl" > "$T/mix.jsonl.gz"
    $prog -q "$T/mix.jsonl.gz" > "$T/gz.jsonl"
    ok "$name: gzip input gives the same output as plain input" "cmp -s '$T/one.jsonl' '$T/gz.jsonl'"
    $prog -q - < "$T/mix.jsonl" > "$T/stdin.jsonl"
    ok "$name: '-' reads standard input" "cmp -s '$T/one.jsonl' '$T/stdin.jsonl'"
    $prog -q -o "$T/out.jsonl" "$T/mix.jsonl"
    ok "$name: -o writes the same bytes as stdout" "cmp -s '$T/one.jsonl' '$T/out.jsonl'"
    echo old > "$T/keep.jsonl"
    { cat "$T/mix.jsonl"; echo '{"broken":'; } > "$T/bad.jsonl"
    $prog -q -o "$T/keep.jsonl" "$T/bad.jsonl" 2> "$T/err"
    rc=$?
    ok "$name: a bad last record fails with status 1 and leaves the old -o file untouched" \
        "[ $rc = 1 ] && [ \"\$(cat '$T/keep.jsonl')\" = old ] && ! ls '$T'/keep.jsonl.tmp.* >/dev/null 2>&1"
    ok "$name: the error names the file and line" "grep -q 'bad.jsonl:$((n + 1)): malformed JSON' '$T/err'"
    $prog -q --skip-bad "$T/bad.jsonl" > "$T/skip.jsonl" 2> "$T/err"
    ok "$name: --skip-bad writes every good record and reports the skip" \
        "cmp -s '$T/one.jsonl' '$T/skip.jsonl' && grep -q 'skipped 1 bad record: 1 malformed JSON' '$T/err'"
    ok "$name: every output line is a JSON object with id, mode, inputs/messages, meta" \
        "python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l); assert list(d)[:2] == [\"id\", \"mode\"] and (\"inputs\" in d or \"messages\" in d) and \"meta\" in d' '$T/one.jsonl'"
done

miso-chunk -q "$T/mix.jsonl" > "$T/succ.jsonl"
ok "miso-chunk: the chunks of every sample concatenate to the instruction" "python3 - '$T/mix.jsonl' '$T/succ.jsonl' <<'PY'
import json, sys
src = [json.loads(l) for l in open(sys.argv[1])]
out = [json.loads(l) for l in open(sys.argv[2])]
assert len(src) == len(out)
for s, o in zip(src, out):
    if 'messages' in s: want = [m for m in s['messages'] if m['role'] == 'user'][-1]['content']
    elif 'conversations' in s: want = [m for m in s['conversations'] if m['from'] == 'human'][-1]['value']
    elif 'instruction' in s: want = s['instruction'] + ('\n' + s['input'] if s.get('input') else '')
    else: want = s['input'] + '\n<think>\n' + s['reasoning_content'] + '\n</think>'
    assert ''.join(o['inputs']) == want, o['id']
PY"
ok "miso-chunk: k follows 0.55/0.15/0.15/0.15 roughly (k=1 in 40-70% of 370 records)" \
    "python3 -c 'import json,sys
ks = [json.loads(l)[\"meta\"][\"chunks_drawn\" if \"chunks_drawn\" in json.loads(l)[\"meta\"] else \"chunks\"] for l in open(sys.argv[1])]
f = ks.count(1) / len(ks); assert 0.4 < f < 0.7, f' '$T/succ.jsonl'"

crab-split -q "$D/crab/constraint_back_translation_sample.json" > "$T/para.jsonl"
ok "crab-split: every Crab sample has full + one input per constraint + bare, the full input holding all" "python3 - '$D/crab/constraint_back_translation_sample.json' '$T/para.jsonl' <<'PY'
import json, sys
src = json.load(open(sys.argv[1]))
out = [json.loads(l) for l in open(sys.argv[2])]
for s, o in zip(src, out):
    cons = [v.strip() for v in s['Aug_instruction']['Additional_Instruction'].values() if v.strip()]
    x = s['messages'][0]['content']
    assert o['mode'] == 'para' and o['output'] == s['messages'][1]['content']
    assert o['inputs'] == [x + '\n\n' + '\n'.join(cons)] + [x + '\n\n' + c for c in cons] + [x], o['id']
    assert o['meta']['constraints'] == cons
PY"
crab-split -q --max-constraints 4 "$D/crab/constraint_back_translation_sample.json" > "$T/k4.jsonl"
ok "crab-split: --max-constraints 4 keeps 4 constraints (6 inputs) per record" \
    "python3 -c 'import json,sys
assert all(len(json.loads(l)[\"inputs\"]) == 6 and len(json.loads(l)[\"meta\"][\"constraints\"]) == 4 for l in open(sys.argv[1]))' '$T/k4.jsonl'"

# Crab final-SFT records built from the real sample by an independent
# re-implementation of Crab's Forward_data_generate.py (every wrapper and
# joiner): crab-split must recover x and c1..cn exactly where the text can
# be taken apart, and refuse exactly the ambiguous ones.
python3 tests/sh/data/crab_forward_gen.py "$D/crab/constraint_back_translation_sample.json" 600 11 > "$T/fwd.jsonl"
crab-split --skip-bad "$T/fwd.jsonl" > "$T/fwd.out" 2> "$T/fwd.err"
ok "crab-split: 600 generated _forward records: constraints, instruction and wrapper recovered exactly, ambiguous ones refused" "python3 - '$T/fwd.jsonl' '$T/fwd.out' <<'PY'
import json, sys
src = [json.loads(l) for l in open(sys.argv[1])]
out = {json.loads(l)['id']: json.loads(l) for l in open(sys.argv[2])}
for s in src:
    t, o = s['_truth'], out.get(s['id'])
    assert t['parsable'] == (o is not None), s['id']
    if o:
        assert o['meta']['constraints'] == t['constraints'] and o['inputs'][-1] == t['x'] and o['meta']['wrapper'] == t['wrapper'], s['id']
        assert o['inputs'][0] == s['messages'][0]['content'] or len(t['constraints']) == 1
assert 0 < len(out) < len(src)
PY"
nref=$(python3 -c 'import json,sys; print(sum(not json.loads(l)["_truth"]["parsable"] for l in open(sys.argv[1])))' "$T/fwd.jsonl")
ok "crab-split: the refused _forward records are reported with their reasons ($nref)" \
    "grep -q '^crab-split: skipped $nref bad records: .*cannot take the constraints apart: constraints joined by spaces cannot be separated' '$T/fwd.err'"

# Oracle: jq running bench/crab-split.jq (the same restructuring written in
# jq) on 1 MB of generated Crab-like records gives the same JSON values.
python3 bench/gen-crab.py 1 > "$T/gen.jsonl"
crab-split -q "$T/gen.jsonl" > "$T/gen.c"
jq -c -f bench/crab-split.jq "$T/gen.jsonl" > "$T/gen.jq"
ok "crab-split: equals jq running bench/crab-split.jq on $(wc -l < "$T/gen.jsonl") generated Crab records" \
    "python3 -c 'import json,sys
a = [json.loads(l) for l in open(sys.argv[1])]; b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) > 100 and a == b' '$T/gen.c' '$T/gen.jq'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
