#!/usr/bin/python3
"""textref.py - reference outputs from the real Python libraries for
tests/sh/textref.sh (run with Debian's /usr/bin/python3: python3-nltk 3.8,
python3-langdetect 1.0.9).

  textref.py texts [--lang]   corpus as JSON strings, one a line, on stdout:
                              the dev responses with their 7 IFEval loose
                              variants and the 541 prompts (--lang: the
                              responses, the prompts, and the variants of the
                              responses whose instructions call langdetect)
  textref.py fuzz N SEED      N random texts built from tricky pieces (quotes,
                              ellipses, abbreviations, initials, numbers, lists,
                              brackets, contractions, Unicode, blank lines)
  textref.py wfuzz N SEED     N random short texts aimed at the Treebank rules:
                              contraction halves, quotes of every kind, the
                              characters (?i) folds (U+0130, U+0131, U+017F),
                              non-ASCII digits and spaces, closers, glued
                              together mostly without spaces
  textref.py cjk N SEED       N random texts of mostly CJK ideographs (with
                              kana, hangul, Latin and spaces): langdetect's
                              CJK_MAP normalisation of U+4E00..U+9FFF
  textref.py long            13 pathological long texts (200 KB words, 100 KB
                              of periods, dashes, quotes, newlines ...)
  textref.py punkt < texts    {"s": sentences, "w": word_tokenize tokens} a line
  textref.py lang < texts     langdetect.detect_langs with DetectorFactory.seed = 0
                              as "lang:%.17g ..." (so probabilities must agree
                              to the last bit; "-" where it raises
                              LangDetectException, "unknown" for none > 0.1)
  textref.py bench < texts    CPU seconds (time.process_time) of Punkt
                              tokenize, word_tokenize and langdetect.detect
                              (seed 0) over the texts, models loaded first
  textref.py compare A B      compare two outputs line by line (JSON-aware);
                              prints PASS/FAIL lines and the counts
"""
import glob
import json
import os
import sys

TOP = os.environ.get("MISO_TOP", ".")
PUNKT_DIR = os.path.join(TOP, "datasets/ifeval/nltk_data/tokenizers/punkt_tab/english")
LANG_IDS = {"language:response_language", "change_case:english_capital", "change_case:english_lowercase"}

# Hand-made cases on top of the data: quotes, ellipses, lists, abbreviations.
EXTRA = [
    "Fine... ok. e.g. this one.",
    "He said \"Stop.\" Then he left. (This is it.) Next one!",
    "The U.S. economy grew. Mr. Smith agreed, i.e. mostly.",
    "1. First item.\n2. Second item.\n3. Third item",
    "* bullet one\n* bullet two\n- dash three",
    "DON'T STOP. IT'S FINE! CANNOT, GONNA, WANNA go.",
    "\u201cSmart quotes.\u201d And \u2018single ones\u2019. Caf\u00e9 na\u00efve r\u00e9sum\u00e9.",
    "Wait -- what?! Really?? Yes!!! No...",
    "Prices: $3.88, 3,36 euros; 10% off & more @ home #tag.",
    "He's got 'em. They'd've gone. 'Tis true, 'twas so.",
    "Line one\r\nLine two.\r\nLine three",
    "\u0414\u043e\u0431\u0440\u044b\u0439 \u0434\u0435\u043d\u044c. \u041a\u0430\u043a \u0434\u0435\u043b\u0430?",
    "\u4eca\u65e5\u306f\u3002\u3044\u3044\u5929\u6c17\u3067\u3059\u306d\u3002",
    "  leading and trailing spaces.  ",
    "",
    "...",
    "A. B. C. Johnson went home. J. S. Bach wrote music.",
    "See p. 5 and fig. 3. The end.",
    "(Sent1.) Sent2. [Sent3.] {Sent4.}",
    "Hello.\n\nNew paragraph.\n\n\nAnother.",
]


def loose_variants(r):
    lines = r.split("\n")
    first = "\n".join(lines[1:]).strip()
    last = "\n".join(lines[:-1]).strip()
    both = "\n".join(lines[1:-1]).strip()
    return [r, r.replace("*", ""), first, last, both,
            first.replace("*", ""), last.replace("*", ""), both.replace("*", "")]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def corpus(lang_only):
    prompts = read_jsonl(os.path.join(TOP, "datasets/ifeval/input_data.jsonl"))
    ids = {p["prompt"]: set(p["instruction_id_list"]) for p in prompts}
    files = [os.path.join(TOP, "datasets/ifeval/dev/input_response_data_gpt4_20231107_145030.key2785_prompt_fixed.jsonl")]
    files += sorted(glob.glob(os.path.join(TOP, "datasets/ifeval/dev/extra_subset_responses/responses_*.jsonl")))
    out, seen = [], set()

    def add(t):
        if t not in seen:
            seen.add(t)
            out.append(t)

    for t in EXTRA:
        add(t)
    for path in files:
        for rec in read_jsonl(path):
            r = rec["response"]
            if lang_only and not (ids.get(rec["prompt"], set()) & LANG_IDS):
                add(r)
                continue
            for v in loose_variants(r):
                add(v)
    for p in prompts:
        add(p["prompt"])
    return out


PIECES = [
    "word", "Word", "WORD", "e.g.", "i.e.", "U.S.", "Mr.", "Dr.", "etc.", "vs.", "No.", "St.", "Jan.",
    "A.", "J.", "x.", "3.", "12.", "3.5", "1,000", "-2.5", "##", "...", "..", ". . .", "--", "-", "---",
    ".", "!", "?", "?!", "!!!", ",", ";", ":", "\"", "'", "``", "''", "(", ")", "[", "]", "{", "}",
    "<", ">", "*", "**", "@", "#", "$", "%", "&", "/", "\u201c", "\u201d", "\u2018", "\u2019",
    "\u00ab", "\u00bb", "\u2026", "\u2014", "\u00e9t\u00e9", "\u00c9cole", "\u0130stanbul",
    "\u03a3\u039f\u03a6\u0399\u0391", "\u043f\u0440\u0438\u0432\u0435\u0442", "\u65e5\u672c",
    "\u0928\u092e\u0938\u094d\u0924\u0947", "don't", "DON'T", "can't", "cannot", "gonna", "wanna",
    "'tis", "'twas", "it's", "they'll", "we're", "I've", "he'd", "o'clock", "rock'n'roll", "http://x.org/a.b",
    "a@b.com", "The", "However", "But", "And", "In", "It", "They", "\u2022", "1)", "(a)", "#1", "\t",
]
SEPS = [" ", " ", " ", "", "\n", "\n\n", "  ", "\r\n", "\u00a0", "\u3000", " \n"]


def fuzz(n, seed):
    import random
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rnd.randint(1, 40)):
            parts.append(rnd.choice(PIECES))
            parts.append(rnd.choice(SEPS))
        out.append("".join(parts))
    return out


WPIECES = [
    "can", "not", "CAN", "NoT", "d", "D", "'ye", "'YE", "gim", "me", "gon", "na", "got", "ta", "lem", "more",
    "'n", "'N", "wan", "NA", "'t", "'T", "is", "IS", "was", "Was", "n't", "N'T", "'s", "'S", "'m", "'d", "'ll",
    "'LL", "'Ll", "'re", "'RE", "'ve", "'VE", "'em", "'x", "'", "''", "'" * 3, "\"", "`", "``", "```", "\u00ab",
    "\u201c", "\u2018", "\u201e", "\u00bb", "\u201d", "\u2019", "\u2014", ".", ".", "..", "...", ":", ",",
    ";", "@", "#", "$", "%", "&", "?", "!", "*", "(", ")", "[", "]", "{", "}", "<", ">", "-", "--", "---",
    "0", "7", "3,5", "1.5", "\u0661", "\u0967", "\u00b2", "\u2160", "a", "x", "X", "_", "\u00e9", "\u00c9",
    "\u0130", "\u0131", "\u017f", "\u212a", "g\u0130mme", "g\u0131mme", "'t\u0131\u017f", "wa\u017f",
    "\u65e5", "\u0301", "\ufffd", "e.g.", "Mr.", "U.S.", "It", "The", "http://x.org/a.b?c=d",
    ". . .", ". .", ".\u00a0.\u2009.", ". . . .", ",,", ",.", "3.", "A.", "No.", "vs.", "?!", ".)", ".'\"",
    " ", " ", " ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2009", "\u3000", "\u0085", "\u1680", "\x1c",
]


def wfuzz(n, seed):
    import random
    rnd = random.Random(seed)
    return ["".join(rnd.choice(WPIECES) for _ in range(rnd.randint(1, 14))) for _ in range(n)]


def cjk(n, seed):
    import random
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        k = rnd.randint(1, 60)
        out.append("".join(chr(rnd.randint(0x4E00, 0x9FFF)) if rnd.random() < 0.8
                           else rnd.choice([" ", "\u3002", "a", "\u3042", "\u30a2", "\uac00", "\n"])
                           for _ in range(k)))
    return out


def punkt_params():
    from nltk.tokenize.punkt import PunktParameters

    def lines(name):
        with open(os.path.join(PUNKT_DIR, name), encoding="utf-8") as f:
            return [l.rstrip("\n") for l in f]

    p = PunktParameters()
    p.abbrev_types = set(lines("abbrev_types.txt"))
    p.sent_starters = set(lines("sent_starters.txt"))
    p.collocations = {tuple(l.split("\t")) for l in lines("collocations.tab")}
    for l in lines("ortho_context.tab"):
        typ, flags = l.split("\t")
        p.ortho_context[typ] = int(flags)
    return p


def texts_in():
    for line in sys.stdin:
        yield json.loads(line)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "texts":
        for t in corpus("--lang" in sys.argv[2:]):
            print(json.dumps(t, ensure_ascii=False))
    elif cmd == "fuzz":
        for t in fuzz(int(sys.argv[2]), int(sys.argv[3])):
            print(json.dumps(t, ensure_ascii=False))
    elif cmd == "cjk":
        for t in cjk(int(sys.argv[2]), int(sys.argv[3])):
            print(json.dumps(t))
    elif cmd == "wfuzz":
        for t in wfuzz(int(sys.argv[2]), int(sys.argv[3])):
            print(json.dumps(t, ensure_ascii=False))
    elif cmd == "long":
        for t in ["a" * 200000 + ".", "." * 100000, "a. " * 30000, "-" * 100000, "'" * 50000 + " x",
                  '"' * 50000, "word " * 50000, "A." * 30000, "(" * 50000 + "x.", "e.g. " * 20000,
                  "\n" * 100000 + "x", ("ab" * 20000 + "?!") * 3, "*" * 100000]:
            print(json.dumps(t, ensure_ascii=False))
    elif cmd == "punkt":
        from nltk.tokenize.destructive import NLTKWordTokenizer
        from nltk.tokenize.punkt import PunktSentenceTokenizer
        st = PunktSentenceTokenizer(punkt_params())
        wt = NLTKWordTokenizer()
        for t in texts_in():
            sents = st.tokenize(t)
            words = [w for s in sents for w in wt.tokenize(s)]
            print(json.dumps({"s": sents, "w": words}, ensure_ascii=False))
    elif cmd == "lang":
        import langdetect.detector_factory as factory
        from langdetect import DetectorFactory, detect, detect_langs
        from langdetect.lang_detect_exception import LangDetectException
        DetectorFactory.seed = 0
        if "--listdir-order" in sys.argv[2:]:
            # Stock langdetect: profiles in os.listdir order (file-system dependent),
            # which changes float summation order; compare the language only.
            for t in texts_in():
                try:
                    print(detect(t))
                except LangDetectException:
                    print("-")
            return 0
        # Profiles in sorted file-name order, as lib/langdetect.c loads them,
        # so the probabilities must agree to the last bit.
        real_listdir = os.listdir
        factory.os.listdir = lambda d: sorted(real_listdir(d))
        for t in texts_in():
            try:
                langs = detect_langs(t)
                print(" ".join("%s:%.17g" % (l.lang, l.prob) for l in langs) if langs else "unknown")
            except LangDetectException:
                print("-")
    elif cmd == "bench":
        import time
        from langdetect import DetectorFactory, detect
        from langdetect.lang_detect_exception import LangDetectException
        from nltk.tokenize.destructive import NLTKWordTokenizer
        from nltk.tokenize.punkt import PunktSentenceTokenizer
        DetectorFactory.seed = 0
        texts = list(texts_in())
        st = PunktSentenceTokenizer(punkt_params())
        wt = NLTKWordTokenizer()
        tl = time.process_time()
        try:
            detect("warm up the profiles")
        except LangDetectException:
            pass
        load = time.process_time() - tl
        t0 = time.process_time()
        for t in texts:
            st.tokenize(t)
        t1 = time.process_time()
        for t in texts:
            [w for s in st.tokenize(t) for w in wt.tokenize(s)]
        t2 = time.process_time()
        for t in texts:
            try:
                detect(t)
            except LangDetectException:
                pass
        t3 = time.process_time()
        print("texts %d\npunkt %.4f\nword_tokenize %.4f\nprofile load %.4f\nlangdetect %.4f"
              % (len(texts), t1 - t0, t2 - t1, load, t3 - t2))
    elif cmd == "compare":
        what = sys.argv[4] if len(sys.argv) > 4 else "outputs"
        with open(sys.argv[2], encoding="utf-8") as f:
            a = f.read().split("\n")
        with open(sys.argv[3], encoding="utf-8") as f:
            b = f.read().split("\n")
        texts = None
        if len(sys.argv) > 5:
            with open(sys.argv[5], encoding="utf-8") as f:
                texts = [json.loads(l) for l in f]
        bad = 0
        if len(a) != len(b):
            print("FAIL: %s: %d reference lines, %d from C" % (what, len(a), len(b)))
            bad += 1
        for i, (x, y) in enumerate(zip(a, b)):
            try:
                same = json.loads(x) == json.loads(y) if x.startswith("{") else x == y
            except ValueError:
                same = False
            if not same:
                bad += 1
                if bad <= 5:
                    print("FAIL: %s: text %d differs" % (what, i + 1))
                    if texts:
                        print("    text: %r" % texts[i][:300])
                    print("    python: %s\n    c:      %s" % (x[:600], y[:600]))
        n = min(len(a), len(b)) - 1
        if bad:
            print("FAIL: %s: %d of %d texts differ" % (what, bad, n))
        else:
            print("PASS: %s agree with the Python reference on all %d texts" % (what, n))
        return 1 if bad else 0
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
