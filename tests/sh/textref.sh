#!/bin/bash
# textref.sh - lib/punkt, lib/wordtok and lib/langdetect agree with the real
# Python libraries, text by text:
#   Punkt sentences + nltk.word_tokenize   Debian python3-nltk 3.8 (PunktParameters
#                                          built from the shipped punkt_tab files)
#   langdetect.detect_langs, seed 0        Debian python3-langdetect 1.0.9: the
#                                          probabilities to the last bit (profiles in
#                                          sorted order, as the C loads them), and
#                                          stock detect() (os.listdir order) by language
# Corpus: every dev response (official GPT-4 + 5 extra subsets) with its 7 IFEval
# loose variants, the 541 IFEval prompts and hand-made cases (tests/reference/
# textref.py texts; for langdetect, loose variants only of the responses whose
# instructions use langdetect), plus seeded random texts built from tricky
# pieces (fuzz), and short random texts aimed at the Treebank rules (wfuzz:
# contraction halves glued together, every quote, (?i) folds, Unicode digits
# and spaces).
# The C side is the --dump mode of the unit-test binaries test_wordtok and
# test_langdetect (helpers inside tests, not shipped programs).
set -u
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "PASS: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

TOP=${MISO_TOP:-$(pwd)}
BIN=${MISO_BIN:-$TOP/build/bin}
T="$BIN/../tests"
PY=/usr/bin/python3
REF="$TOP/tests/reference/textref.py"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

if ! $PY -c 'import nltk, langdetect' 2>/dev/null; then
    bad "Debian python3-nltk and python3-langdetect are installed (run scripts/deps.sh)"
    finish
fi
for b in test_wordtok test_langdetect; do
    [ -x "$T/$b" ] || { bad "unit binary $b is built"; finish; }
done

# compare NAME PYTHON_OUT C_OUT TEXTS: one PASS/FAIL line from textref.py compare
compare() {
    local out
    out=$($PY "$REF" compare "$2" "$3" "$1" "$4")
    echo "$out" | grep -v '^\(PASS\|FAIL\): ' | sed 's/^/    /'
    if echo "$out" | grep -q '^FAIL: '; then
        echo "$out" | grep '^FAIL: ' | head -n 6 | sed 's/^FAIL: /    /'
        bad "$1 ($(echo "$out" | grep '^FAIL: ' | tail -n 1 | sed 's/^FAIL: //'))"
    else
        ok "$(echo "$out" | sed -n 's/^PASS: //p')"
    fi
}

$PY "$REF" texts >"$W/texts.jsonl" || { bad "builds the corpus"; finish; }
$PY "$REF" texts --lang >"$W/ltexts.jsonl" || { bad "builds the langdetect corpus"; finish; }
$PY "$REF" fuzz 3000 1 >"$W/fuzz.jsonl"
$PY "$REF" wfuzz 4000 3 >"$W/wfuzz.jsonl"
$PY "$REF" long >"$W/long.jsonl"
$PY "$REF" cjk 300 5 >"$W/cjk.jsonl"
head -n 400 "$W/fuzz.jsonl" >"$W/lfuzz.jsonl"
n=$(wc -l <"$W/texts.jsonl")
[ "$n" -gt 5000 ] && ok "the corpus holds $n distinct texts" || bad "the corpus holds $n texts, expected > 5000"

for c in texts fuzz wfuzz long; do
    $PY "$REF" punkt <"$W/$c.jsonl" >"$W/$c.punkt.py"
    "$T/test_wordtok" --dump <"$W/$c.jsonl" >"$W/$c.punkt.c"
    compare "Punkt sentences and word_tokenize tokens ($c)" "$W/$c.punkt.py" "$W/$c.punkt.c" "$W/$c.jsonl"
done

# langdetect: the responses, the prompts and every loose variant of the responses
# whose instructions call langdetect (what ifeval-score passes to it).
for c in ltexts lfuzz long cjk; do
    $PY "$REF" lang <"$W/$c.jsonl" >"$W/$c.lang.py"
    "$T/test_langdetect" --dump <"$W/$c.jsonl" >"$W/$c.lang.c"
    compare "langdetect probabilities, seed 0 ($c)" "$W/$c.lang.py" "$W/$c.lang.c" "$W/$c.jsonl"
done

# Stock langdetect (profiles in os.listdir order): the detected language.
$PY "$REF" lang --listdir-order <"$W/ltexts.jsonl" >"$W/stock.py"
"$T/test_langdetect" --dump <"$W/ltexts.jsonl" | sed 's/:[^ ]*.*$//' >"$W/stock.c"
compare "stock langdetect.detect, seed 0, on responses, variants and prompts" "$W/stock.py" "$W/stock.c" "$W/ltexts.jsonl"

finish
