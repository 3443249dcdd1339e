#!/bin/bash
# gen.sh - miso-gen against a real HTTP server on 127.0.0.1
# (tests/reference/mock_openai.py): answers, retries on 429 (Retry-After
# honoured), 500 and dropped connections, timeouts, malformed JSON, the API
# key kept secret, resume after kill -9; then local generation with a tiny
# random model.
set -u
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "PASS: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { if eval "$1"; then ok "$2"; else bad "$2"; fi; }
T=$(mktemp -d)
SRV=""
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

KEY="sk-miso-test-7f3a9c-SECRET"
python3 "$MISO_TOP/tests/reference/mock_openai.py" --port-file "$T/port" --key "$KEY" --log "$T/log" \
    --lifetime 90 &
SRV=$!
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT=$(cat "$T/port" 2>/dev/null)
[ -n "$PORT" ] || { bad "the mock server did not start"; echo "$passed passed, $failed failed"; exit 1; }
URL="http://127.0.0.1:$PORT"
export MISO_TEST_KEY="$KEY"
gen() { miso-gen --api "$URL" --model-name mock --api-key-env MISO_TEST_KEY --retry-wait 0.2 "$@"; }
attempts() { grep -F "\"prompt\": \"$1\"" "$T/log" | wc -l; }
now() { date +%s.%N; }

# ---- normal answers, order, fields
for k in 1 2 3 4 5 6; do printf '{"key": %d, "prompt": "p%d", "instruction_id_list": []}\n' $k $k; done >"$T/in.jsonl"
gen -p 3 -t 0 --max-new-tokens 64 "$T/in.jsonl" -o "$T/out.jsonl" 2>"$T/err"; rc=$?
check '[ $rc = 0 ] && [ $(wc -l <"$T/out.jsonl") = 6 ]' "answers every prompt (6 prompts, 3 in flight)"
check '[ "$(head -1 "$T/out.jsonl")" = "{\"key\":1,\"prompt\":\"p1\",\"response\":\"answer: p1\"}" ]' \
    "writes IFEval input_response_data lines, key first"
check '[ "$(cut -d, -f1 "$T/out.jsonl" | tr -d "{\"key:" | tr "\n" " ")" = "1 2 3 4 5 6 " ]' \
    "the finished file is in input order"
check 'grep -q "\"temperature\": 0" "$T/log" && grep -q "\"max_tokens\": 64" "$T/log" && grep -q "\"model\": \"mock\"" "$T/log"' \
    "passes model, temperature and max_tokens through"
miso-gen --api "$URL/v1/" --model-name mock --api-key-env MISO_TEST_KEY <"$T/in.jsonl" >"$T/stdout.jsonl" 2>/dev/null; rc=$?
check '[ $rc = 0 ] && [ $(wc -l <"$T/stdout.jsonl") = 6 ]' "accepts the URL with /v1 and writes stdout without -o"

# ---- messages and multi-input sample records
cat >"$T/mixed.jsonl" <<'J'
{"id": "m1", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "q1"}, {"role": "assistant", "content": "reference"}]}
{"id": "s1", "mode": "succ", "inputs": ["Write ", "a poem"], "output": "x"}
{"id": "p1", "mode": "para", "inputs": ["full c1 c2", "c1", "c2"], "output": "x"}
J
gen "$T/mixed.jsonl" -o "$T/mixed.out" 2>/dev/null
check 'grep -qx "{\"id\":\"m1\",\"prompt\":\"q1\",\"response\":\"answer: q1\"}" "$T/mixed.out" && grep -q "\"n_messages\": 2" "$T/log"' \
    "a messages record is sent up to its last user turn (reference answer dropped)"
check 'grep -q "\"prompt\":\"Write a poem\"" "$T/mixed.out" && grep -q "\"prompt\":\"full c1 c2\"" "$T/mixed.out"' \
    "sample records: succ chunks are joined, para sends the full instruction"

echo '{"key": 60, "prompt": "with system"}' | gen --system "Be terse." -o "$T/sys.out" 2>/dev/null; rc=$?
check '[ $rc = 0 ] && grep -F "\"prompt\": \"with system\"" "$T/log" | grep -q "\"n_messages\": 2"' \
    "--system adds a system turn to records without one"

printf '%s\n' '{"key": 70, "prompt": "o1 #slow=0.5"}' '{"key": 71, "prompt": "o2"}' >"$T/o.jsonl"
gen -p 2 --no-reorder "$T/o.jsonl" -o "$T/o1.out" 2>/dev/null
gen -p 2 "$T/o.jsonl" -o "$T/o2.out" 2>/dev/null
check 'head -1 "$T/o1.out" | grep -q "\"key\":71" && head -1 "$T/o2.out" | grep -q "\"key\":70"' \
    "--no-reorder keeps completion order; by default the finished file is in input order"

# ---- 429 with Retry-After
echo '{"key": 10, "prompt": "r #429=1 #after=2"}' >"$T/r.jsonl"
t0=$(now); gen "$T/r.jsonl" -o "$T/r.out" 2>/dev/null; rc=$?; t1=$(now)
check '[ $rc = 0 ] && [ $(attempts "r #429=1 #after=2") = 2 ]' "429 is retried and then answered"
gap=$(grep -F '"r #429' "$T/log" | python3 -c 'import sys,json; t=[json.loads(l)["time"] for l in sys.stdin]; print("%.2f" % (t[1]-t[0]))')
check 'python3 -c "import sys; sys.exit(not (1.95 <= $gap <= 3.0))"' "Retry-After: 2 is honoured (retry after ${gap}s, within [1.95, 3.0])"

# ---- 500 then success; dropped connections
printf '%s\n' '{"key": 20, "prompt": "e #500=2"}' '{"key": 21, "prompt": "d #drop=2"}' >"$T/e.jsonl"
gen -p 2 "$T/e.jsonl" -o "$T/e.out" 2>"$T/err"; rc=$?
check '[ $rc = 0 ] && [ $(attempts "e #500=2") = 3 ] && grep -q "answer: e #500=2" "$T/e.out"' "two 500s, then the answer"
check '[ $rc = 0 ] && grep -q "answer: d #drop=2" "$T/e.out"' "dropped connections are retried"
echo '{"key": 22, "prompt": "f #500=9"}' | gen --retries 2 -o "$T/f.out" 2>"$T/err"; rc=$?
check '[ $rc = 1 ] && grep -q "<stdin>:1: prompt key 22: HTTP 500: internal error (gave up after 3 attempts)" "$T/err" && [ ! -s "$T/f.out" ]' \
    "gives up after --retries with the HTTP status and the server's message"

# ---- timeouts
echo '{"key": 30, "prompt": "t #slow=3"}' >"$T/t.jsonl"
t0=$(now); gen --timeout 0.5 --retries 0 "$T/t.jsonl" -o "$T/t.out" 2>"$T/err"; rc=$?; t1=$(now)
el=$(python3 -c "print('%.2f' % ($t1 - $t0))")
check '[ $rc = 1 ] && grep -q "prompt key 30: .*[Tt]imeout\|prompt key 30: .*timed out" "$T/err" && python3 -c "import sys; sys.exit(not $el < 2.5)"' \
    "a slow answer past --timeout fails with a timeout message (after ${el}s)"
echo '{"key": 31, "prompt": "u #slow=0.6"}' | gen --timeout 5 -o "$T/u.out" 2>/dev/null; rc=$?
check '[ $rc = 0 ] && grep -q "answer: u" "$T/u.out"' "a slow answer within --timeout is accepted"
miso-gen --api "http://127.0.0.1:9" --model-name m --retries 1 --retry-wait 0.1 --connect-timeout 1 <"$T/t.jsonl" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc = 1 ] && grep -q "prompt key 30: .*gave up after 2 attempts" "$T/err"' "an unreachable server fails after the retries"

# ---- malformed JSON
printf '%s\n' '{"key": 40, "prompt": "ok"}' '{"key": 41, "prompt": "b #badjson"}' '{"key": 42, "prompt": "c #nocontent"}' >"$T/b.jsonl"
gen "$T/b.jsonl" -o "$T/b.out" 2>"$T/err"; rc=$?
check '[ $rc = 1 ] && grep -q "b.jsonl:2: prompt key 41: malformed JSON answer: " "$T/err"' \
    "a malformed JSON answer is a clear error naming the file, line and prompt key"
check 'grep -q "b.jsonl:3: prompt key 42: malformed JSON answer: no .choices." "$T/err" && [ $(wc -l <"$T/b.out") = 1 ]' \
    "an answer without choices is an error; the good answer is kept"
check '[ $(attempts "b #badjson") = 1 ]' "malformed answers are not retried"

# ---- servers that misbehave politely: HTTP 200 with an error, no choice, cut answers, odd bytes
printf '%s\n' '{"key": 80, "prompt": "e2 #err200=2"}' '{"key": 81, "prompt": "n #nochoice=1"}' \
    '{"key": 82, "prompt": "l #length"}' '{"key": 83, "prompt": "r #rawbytes"}' '{"key": 84, "prompt": "z #nul"}' >"$T/m.jsonl"
gen -p 16 "$T/m.jsonl" -o "$T/m.out" 2>"$T/err"; rc=$?
check '[ $rc = 0 ] && [ $(attempts "e2 #err200=2") = 3 ] && grep -q "answer: e2" "$T/m.out"' \
    "an error object with HTTP 200 is retried, then answered"
check '[ $(attempts "n #nochoice=1") = 2 ] && grep -q "answer: n #nochoice" "$T/m.out"' "an empty choices list is retried"
check 'grep -q "answer: l #length" "$T/m.out" && grep -q "1 answer was cut at the length limit" "$T/err"' \
    "finish_reason length keeps the answer and says so on stderr"
check 'python3 - "$T/m.out" <<"PY"
import json, sys
raw = open(sys.argv[1], "rb").read()
r = {j["key"]: j["response"] for j in map(json.loads, raw.decode("utf-8").splitlines())}
sys.exit(not (r[83] == "answer: r #raw\ufffd\ufffdbytes" and r[84] == "answer: z #nul\ufffdend"))
PY' "invalid UTF-8 and \\u0000 in an answer become U+FFFD; the output stays valid UTF-8 JSON"
check '[ $(wc -l <"$T/m.out") = 5 ]' "--parallel larger than the number of prompts answers each once"
echo '{"key": 85, "prompt": "e3 #err200=9"}' | gen --retries 1 2>"$T/err" >/dev/null; rc=$?
check '[ $rc = 1 ] && grep -q "prompt key 85: server error: upstream overloaded (gave up after 2 attempts)" "$T/err"' \
    "a persistent error object gives up with the server's message"
for u in "$URL/" "$URL/v1/chat/completions" "$URL//"; do
    echo '{"key": 86, "prompt": "url"}' | miso-gen --api "$u" --model-name mock --api-key-env MISO_TEST_KEY 2>/dev/null >"$T/url.out"; rc=$?
    check '[ $rc = 0 ] && grep -q "answer: url" "$T/url.out"' "accepts the server URL form '${u#$URL}'"
done

printf '%s\n' '{"key": 90, "prompt": "same"}' '{"key": 90, "prompt": "same"}' '{"key": 91, "prompt": "x"}' '{"key": 91, "prompt": "y"}' >"$T/dup.jsonl"
gen "$T/dup.jsonl" -o "$T/dup.out" 2>"$T/err"; rc=$?
check '[ $rc = 1 ] && grep -q "dup.jsonl:4: key 91 was already used at .*dup.jsonl:3 for another prompt" "$T/err" && [ ! -s "$T/dup.out" ]' \
    "a key repeated with another prompt is an error before anything is asked (an exact repeat is answered once)"

# ---- the API key
cat "$T"/*.out "$T/out.jsonl" "$T/err" >"$T/all" 2>/dev/null
check '! grep -qF "$KEY" "$T/all"' "the API key appears in no output and no message"
echo '{"key": 50, "prompt": "k"}' | MISO_TEST_KEY=wrong-key-XYZ gen 2>"$T/err" >"$T/kout"; rc=$?
check '[ $rc = 1 ] && grep -q "HTTP 401: invalid api key" "$T/err" && ! grep -q "wrong-key-XYZ" "$T/err" "$T/kout"' \
    "a rejected key is reported without printing it"
echo '{"key": 51, "prompt": "k"}' | miso-gen --api "$URL" --model-name m --api-key-env NO_SUCH_VAR_MISO 2>"$T/err"; rc=$?
check '[ $rc = 1 ] && grep -q "environment variable .NO_SUCH_VAR_MISO. is not set" "$T/err"' "a missing key variable is an error naming it"

# ---- resume after kill -9
for k in $(seq 100 111); do printf '{"key": %d, "prompt": "s%d #slow=0.4"}\n' $k $k; done >"$T/s.jsonl"
miso-gen --api "$URL" --model-name mock --api-key-env MISO_TEST_KEY -p 2 "$T/s.jsonl" -o "$T/s.out" 2>/dev/null &
G=$! # miso-gen itself, not a subshell
sleep 1.3
kill -9 $G 2>/dev/null; wait $G 2>/dev/null
n1=$(wc -l <"$T/s.out")
check '[ "$n1" -ge 1 ] && [ "$n1" -lt 12 ]' "a killed run kept the $n1 answers it had finished"
printf '{"key":999,"prompt":"partial' >>"$T/s.out" # as if killed mid-write
gen -p 4 "$T/s.jsonl" -o "$T/s.out" 2>"$T/err"; rc=$?
check '[ $rc = 0 ] && grep -q "already answered" "$T/err" && grep -q "incomplete last line" "$T/err"' \
    "the rerun resumes, dropping the incomplete last line"
check '[ "$(grep -o "\"key\":[0-9]*" "$T/s.out" | sort | uniq -c | awk "\$1 == 1" | wc -l)" = 12 ] && [ $(wc -l <"$T/s.out") = 12 ]' \
    "after resuming every prompt is answered exactly once"
s_att=$(grep -c '"prompt": "s1[01][0-9] #slow' "$T/log")
check '[ "$s_att" -le $((12 + 2)) ]' "the rerun asked only for the missing prompts ($s_att requests for 12 prompts)"
gen "$T/s.jsonl" -o "$T/s.out" 2>"$T/err"; rc=$?
check '[ $rc = 0 ] && grep -q "0 answered now, 12 already answered" "$T/err"' "a complete output file means nothing to do"


# ---- SIGINT (Ctrl-C) in the middle: finished answers kept, the rerun completes
for k in $(seq 200 207); do printf '{"key": %d, "prompt": "i%d #slow=0.4"}\n' $k $k; done >"$T/i.jsonl"
env --default-signal=INT miso-gen --api "$URL" --model-name mock --api-key-env MISO_TEST_KEY -p 2 "$T/i.jsonl" \
    -o "$T/i.out" 2>/dev/null &
G=$!
sleep 1.1
kill -INT $G 2>/dev/null; wait $G; rc=$?
n1=$(wc -l <"$T/i.out")
check '[ $rc != 0 ] && [ "$n1" -ge 1 ] && [ "$n1" -lt 8 ] && ! ls "$T" | grep -q "i.out.tmp"' \
    "SIGINT stops the run keeping the $n1 finished answers"
gen -p 4 "$T/i.jsonl" -o "$T/i.out" 2>"$T/err"; rc=$?
check '[ $rc = 0 ] && [ $(wc -l <"$T/i.out") = 8 ] && [ "$(grep -o "\"key\":[0-9]*" "$T/i.out" | sort -u | wc -l)" = 8 ]' \
    "the rerun after SIGINT answers the rest, each prompt once"

# ---- local generation: a tiny random model with the built-in byte tokenizer
# (written here as a Hugging Face directory with the standard library), and
# llama2.c's stories260K.bin against run.c's greedy ids.
python3 - "$T/tiny" <<'PY'
import json, os, random, struct, sys
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
V, D, F, L, NH = 264, 16, 32, 1, 2
cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": D, "intermediate_size": F,
       "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NH, "vocab_size": V,
       "max_position_embeddings": 1024, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": True,
       "hidden_act": "silu", "bos_token_id": 256, "eos_token_id": 257, "miso_tokenizer": "byte"}
json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
rnd = random.Random(7)
shapes = [("model.embed_tokens.weight", [V, D]), ("model.norm.weight", [D])]
for l in range(L):
    p = "model.layers.%d." % l
    shapes += [(p + "input_layernorm.weight", [D]), (p + "post_attention_layernorm.weight", [D]),
               (p + "self_attn.q_proj.weight", [D, D]), (p + "self_attn.k_proj.weight", [D, D]),
               (p + "self_attn.v_proj.weight", [D, D]), (p + "self_attn.o_proj.weight", [D, D]),
               (p + "mlp.gate_proj.weight", [F, D]), (p + "mlp.up_proj.weight", [F, D]),
               (p + "mlp.down_proj.weight", [D, F])]
hdr, blobs, off = {}, [], 0
for name, shape in shapes:
    n = 1
    for x in shape: n *= x
    vals = [1.0] * n if name.endswith("norm.weight") else [rnd.gauss(0, 0.5) for _ in range(n)]
    b = struct.pack("<%df" % n, *vals)
    hdr[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(b)]}
    blobs.append(b); off += len(b)
h = json.dumps(hdr).encode(); h += b" " * (-len(h) % 8)
with open(os.path.join(d, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h); f.write(b"".join(blobs))
PY
head -n 3 "$MISO_TOP/datasets/ifeval/input_data.jsonl" >"$T/if3.jsonl"
lgen() { miso-gen --model "$T/tiny" --max-new-tokens 24 -q "$@"; }
lgen "$T/if3.jsonl" -o "$T/g1.out"; rc=$?
lgen "$T/if3.jsonl" -o "$T/g2.out"
check '[ $rc = 0 ] && [ $(wc -l <"$T/g1.out") = 3 ] && cmp -s "$T/g1.out" "$T/g2.out"' \
    "local greedy generation answers every prompt and is deterministic"
lgen -t 0.9 --top-p 0.95 --top-k 40 -s 11 "$T/if3.jsonl" -o "$T/g3.out"
lgen -t 0.9 --top-p 0.95 --top-k 40 -s 11 "$T/if3.jsonl" -o "$T/g4.out"
lgen -t 0.9 --top-p 0.95 --top-k 40 -s 12 "$T/if3.jsonl" -o "$T/g5.out"
check 'cmp -s "$T/g3.out" "$T/g4.out" && ! cmp -s "$T/g3.out" "$T/g5.out"' \
    "sampling is reproducible under --seed and changes with it"
check 'ifeval-score -q --input "$T/if3.jsonl" --responses "$T/g1.out" --summary "$T/sum.json" >/dev/null 2>"$T/err" && grep -q prompt_level_strict_acc "$T/sum.json"' \
    "ifeval-score reads the local output directly"
echo '{"id": "m", "mode": "para", "inputs": ["full: a, b", "a", "b"], "output": "x"}' >"$T/para.jsonl"
lgen --attn miso "$T/para.jsonl" -o "$T/pm.out"; rc1=$?
lgen --attn concat "$T/para.jsonl" -o "$T/pc.out"; rc2=$?
lgen --attn miso-fid "$T/para.jsonl" -o "$T/pf.out"; rc3=$?
check '[ $rc3 = 0 ] && [ $(wc -l <"$T/pf.out") = 1 ]' "--attn miso-fid generates for a multi-input record"
check '[ $rc1 = 0 ] && [ $rc2 = 0 ] && grep -q "\"prompt\":\"full: a, b\"" "$T/pm.out" && ! cmp -s "$T/pm.out" "$T/pc.out"' \
    "a multi-input record is generated with --attn miso and differs from concat"
printf '%s\n' '{"id":"c1","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"user","content":"Count"}]}' \
    '{"id":"c2","messages":[{"role":"user","content":"Count"}]}' >"$T/conv.jsonl"
lgen "$T/conv.jsonl" -o "$T/conv1.out"; rc=$?
lgen "$T/conv.jsonl" -o "$T/conv2.out"
r1=$(sed -n 1p "$T/conv1.out" | python3 -c 'import sys,json; print(json.loads(sys.stdin.read())["response"])')
r2=$(sed -n 2p "$T/conv1.out" | python3 -c 'import sys,json; print(json.loads(sys.stdin.read())["response"])')
check '[ $rc = 0 ] && cmp -s "$T/conv1.out" "$T/conv2.out" && [ -n "$r1" ] && [ "$r1" != "$r2" ]' \
    "a multi-turn conversation is generated from its whole history, deterministically"
# --ids with text prompts: the text and the ids it decodes from
lgen --ids "$T/if3.jsonl" -o "$T/ids.out"; rc=$?
check '[ $rc = 0 ] && python3 - "$T/ids.out" "$T/g1.out" <<"PY"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
ok = len(a) == 3 and all(x["response"] == y["response"] and x["response_ids"] and
                         bytes(x["response_ids"]).decode("utf-8", "replace") == x["response"] for x, y in zip(a, b))
sys.exit(not ok)
PY' "--ids with text prompts writes the response and the ids it decodes from"

# every eos_token_id stops generation (a list in config.json, generation_config.json)
first=$(head -1 "$T/ids.out" | python3 -c 'import sys,json; r=json.loads(sys.stdin.read())["response_ids"]; print(r[3], r.index(r[3]))')
stop_id=${first% *}; stop_at=${first#* }
cp -r "$T/tiny" "$T/tiny-eos"
python3 - "$T/tiny-eos/config.json" "$stop_id" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["eos_token_id"] = [257, int(sys.argv[2])]; json.dump(c, open(sys.argv[1], "w"))
PY
head -1 "$T/if3.jsonl" | miso-gen -q --model "$T/tiny-eos" --max-new-tokens 24 --ids >"$T/eos1.out"
n1=$(python3 -c 'import sys,json; print(len(json.loads(open(sys.argv[1]).read())["response_ids"]))' "$T/eos1.out")
check '[ "$n1" = "$stop_at" ]' "generation stops at the second id of an eos_token_id list ($n1 ids, want $stop_at)"
cp -r "$T/tiny" "$T/tiny-gc"
echo "{\"eos_token_id\": [$stop_id]}" >"$T/tiny-gc/generation_config.json"
head -1 "$T/if3.jsonl" | miso-gen -q --model "$T/tiny-gc" --max-new-tokens 24 --ids >"$T/eos2.out"
n2=$(python3 -c 'import sys,json; print(len(json.loads(open(sys.argv[1]).read())["response_ids"]))' "$T/eos2.out")
check '[ "$n2" = "$stop_at" ]' "generation stops at generation_config.json's eos_token_id ($n2 ids)"
head -1 "$T/if3.jsonl" | miso-gen --model "$T/tiny" --max-new-tokens 24 --top-p 0.5 -o "$T/greedy-p.out" 2>"$T/err"
check 'grep -q "no effect with greedy decoding" "$T/err" && [ "$(head -1 "$T/g1.out")" = "$(cat "$T/greedy-p.out")" ]' \
    "--top-p without --temperature is greedy, and says so"
head -1 "$T/if3.jsonl" | miso-gen -q --model "$T/tiny" --max-new-tokens 0 >/dev/null 2>"$T/err"; rc=$?
check '[ $rc = 2 ] && grep -q "max-new-tokens" "$T/err"' "--max-new-tokens 0 is a usage error (as in transformers)"
python3 -c 'import json; print(json.dumps({"key": 1, "prompt": "x" * 1100}))' | miso-gen -q --model "$T/tiny" >"$T/long.out" 2>"$T/err"; rc=$?
check '[ $rc = 1 ] && grep -q "does not fit the model.s context of 1024" "$T/err" && [ ! -s "$T/long.out" ]' \
    "a prompt longer than max_position_embeddings fails clearly, not truncated"

# --template none: BOS + the text, as a completion (base models, run.c's way)
echo '{"key": 1, "prompt": "ab"}' | lgen --template none --ids >"$T/raw.out"; rc=$?
echo '256 97 98' | lgen --prompt-ids --ids >"$T/rawids.out"
echo '{"key": 1, "prompt": "ab"}' | lgen --ids >"$T/chat.out"
rids() { python3 -c 'import sys,json; print(json.loads(open(sys.argv[1]).read())["response_ids"])' "$1"; }
check '[ $rc = 0 ] && [ "$(rids "$T/raw.out")" = "$(rids "$T/rawids.out")" ] && [ "$(rids "$T/raw.out")" != "$(rids "$T/chat.out")" ]' \
    "--template none generates from BOS + the prompt's own ids (= --prompt-ids '256 97 98'), not the chat form"

# a model that always says <|end|> (261): the byte template's end of turn
# stops it although config.json's only EOS is 257; with no template it runs on
python3 - "$T/tiny" "$T/eot" <<'PY'
import json, os, struct, sys
src, d = sys.argv[1], sys.argv[2]; os.makedirs(d, exist_ok=True)
cfg = json.load(open(os.path.join(src, "config.json")))
json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
V, D, F = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"]
def t(name, shape, fill):
    n = 1
    for x in shape: n *= x
    return name, shape, [fill(i) for i in range(n)]
# embeddings [1, 0, ...] ([2, 0, ...] for 261); attention and MLP outputs zero,
# so the last hidden state is always the same direction and 261 wins
ts = [t("model.embed_tokens.weight", [V, D], lambda i: (2.0 if i // D == 261 else 1.0) if i % D == 0 else 0.0),
      t("model.norm.weight", [D], lambda i: 1.0)]
p = "model.layers.0."
ts += [t(p + "input_layernorm.weight", [D], lambda i: 1.0), t(p + "post_attention_layernorm.weight", [D], lambda i: 1.0)]
for nm in ("q_proj", "k_proj", "v_proj", "o_proj"):
    ts.append(t(p + "self_attn.%s.weight" % nm, [D, D], lambda i: 0.0))
ts += [t(p + "mlp.gate_proj.weight", [F, D], lambda i: 0.0), t(p + "mlp.up_proj.weight", [F, D], lambda i: 0.0),
       t(p + "mlp.down_proj.weight", [D, F], lambda i: 0.0)]
hdr, blobs, off = {}, [], 0
for name, shape, vals in ts:
    b = struct.pack("<%df" % len(vals), *vals)
    hdr[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(b)]}
    blobs.append(b); off += len(b)
h = json.dumps(hdr).encode(); h += b" " * (-len(h) % 8)
with open(os.path.join(d, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h); f.write(b"".join(blobs))
PY
echo '{"key": 1, "prompt": "hi"}' | miso-gen -q --model "$T/eot" --max-new-tokens 8 --ids >"$T/eot1.out"; rc1=$?
echo '{"key": 1, "prompt": "hi"}' | miso-gen -q --model "$T/eot" --max-new-tokens 8 --ids --template none >"$T/eot2.out"; rc2=$?
check '[ $rc1 = 0 ] && grep -q "\"response\":\"\",\"response_ids\":\[\]" "$T/eot1.out" && [ $rc2 = 0 ] && grep -q "\"response_ids\":\[261,261,261,261,261,261,261,261\]" "$T/eot2.out"' \
    "the template's end-of-turn token stops generation (not in the EOS list); with --template none it does not"

miso-gen -q --model "$MISO_TOP/tests/fixtures/model/llama-gqa-untied" "$T/if3.jsonl" -o "$T/notok.out" 2>"$T/err"; rc=$?
check '[ $rc = 1 ] && [ $(grep -c "" "$T/err") = 1 ] && grep -q "has no tokenizer (no tokenizer.json): give --tokenizer" "$T/err"' \
    "text prompts for a model without a tokenizer fail once, before generating, saying what to give"

want=$(grep -v '^#' "$MISO_TOP/tests/fixtures/stories260K_greedy.txt" | tr -s ' \n' ' ' | cut -d' ' -f1-64)
got=$(echo 1 | miso-gen -q --model "$MISO_TOP/datasets/models/stories260K.bin" --prompt-ids --ids --max-new-tokens 64 \
    | python3 -c 'import sys,json; print(" ".join(map(str, json.loads(sys.stdin.read())["response_ids"])))')
check '[ -n "$got" ] && [ "$got" = "$want" ]' "--prompt-ids --ids on stories260K.bin gives llama2.c run.c's greedy ids"
want=$(grep -v '^#' "$MISO_TOP/tests/fixtures/model/stories260K_greedy512.txt" | tr -s ' \n' ' ' | sed 's/ $//')
got=$(echo 1 | miso-gen -q --model "$MISO_TOP/datasets/models/stories260K.bin" --prompt-ids --ids --max-new-tokens 1000 \
    | python3 -c 'import sys,json; print(" ".join(map(str, json.loads(sys.stdin.read())["response_ids"])))')
check '[ -n "$got" ] && [ "$got" = "$want" ]' \
    "greedy to the end of stories260K's context: the same 512 ids as run.c (which stops at seq_len, never at EOS)"

# ---- usage
miso-gen --model-name m <"$T/in.jsonl" >/dev/null 2>&1; rc=$?
check '[ $rc = 2 ]' "needs --model or --api (usage error)"
miso-gen --api "$URL" <"$T/in.jsonl" >/dev/null 2>&1; rc=$?
check '[ $rc = 2 ]' "--api without --model-name is a usage error"
echo '{"key": 1}' | gen >/dev/null 2>"$T/err"; rc=$?
check '[ $rc = 1 ] && grep -q "<stdin>:1: missing field .prompt." "$T/err"' "a record without a prompt fails with FILE:LINE"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
