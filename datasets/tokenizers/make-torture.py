#!/usr/bin/env python3
"""make-torture.py - writes the tokenizer torture set (run from this folder).

torture.jsonl          one JSON string per line: emoji (ZWJ, skin tones, flags),
                       CJK, combining marks, RTL, control characters, odd white
                       space, CR/LF, long runs of spaces/digits, contractions,
                       special-token look-alikes.
torture-special.jsonl  reserved special tokens, which llama3-tokenizer-js numbers
                       differently from Llama-3's tokenizer.json (it maps
                       reserved_special_token_5 to 128013, the file to 128010, and
                       does not know reserved_special_token_250); compared with
                       the tokenizer.json-based reference (@lenml) only.
nfc.jsonl              the NFD form of every code point with a canonical
                       decomposition (Python's Unicode data), Hangul syllables
                       and combining-mark reorderings, in lines of 16: checks
                       the NFC normalizer (Qwen) against JS String.normalize.
invalid-utf8.txt       raw lines with invalid UTF-8 (read by the references as
                       Node reads UTF-8: each maximal invalid subpart -> U+FFFD).
"""
import json
import unicodedata

T = [
    "Hello world", "", " ", "  leading and trailing  ", "a",
    "I'm sure you're right; THEY'LL say it's fine, we'VE 'd 'll",
    "emoji: 😀😃😄 👍🏽👍🏿 👨‍👩‍👧‍👦 🏳️‍🌈 🇺🇸🇯🇵 🧑🏽‍💻 ❤️‍🔥",
    "CJK: 你好，世界。日本語のテキスト、カタカナ。한국어 텍스트입니다. 𠀀𠀁𪜀",
    "combining: e\u0301 a\u0308 n\u0303 Z\u0351\u0352\u0353\u0354 \u0915\u094d\u0937 ก\u0e31",
    "RTL: שלום עולם مرحبا بالعالم \u200fmixed\u200e اللغة العربية 123",
    "controls: \u0001\u0002\u0003\u0007\b\u000b\f\u000e\u001b[31m\u001c\u001d\u001e\u001f\u007f end",
    "C1 and odd spaces: \u0085 \u00a0 \u1680 \u2000\u2001\u2009 \u200b \u2028 \u2029 \u202f \u205f \u3000 \ufeff end",
    "line\r\nendings\rmixed\n\n\nthree\r\n\r\n",
    "tabs\tand\t\ttabs \t \t",
    "spaces:" + " " * 50 + "x" + " " * 7,
    "trailing spaces" + " " * 13,
    "\n\n\n\n",
    "digits: 1 12 123 1234 12345 123456789012345678901234567890 3.14159 1,000,000 0x1F -42 1e-10",
    "letters+digits: abc123def4567ghi 2nd 3rd 100km",
    "punctuation: !!! ??? ... --- *** ### ((( ))) [[[ ]]] {{{ }}} <<< >>> ''' \"\"\" ``` ~~~",
    "code: for (int i = 0; i < n; i++) { printf(\"%d\\n\", a[i]); }\n    return x->y ?: z;",
    "urls: https://example.com/path?q=1&r=two#frag mailto:a@b.c",
    "special tokens: <|begin_of_text|>hi<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nyo<|eot_id|>",
    "almost special: <|begin_of_text| <|eot_id <|reserved_special_token_999|> <|reserved_special_tok",
    "sp tokens: <s>[INST] Hi [/INST]Hello</s> <unk>",
    "astral: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 🀄 🂡 \U0001F9FF \U000E0041",
    "math: ∀x∈ℝ, ∃y: x²+y²=1 ⇒ ∫₀¹ f(x)dx ≈ ∑ aᵢ",
    "accents: café naïve façade Ærøskøbing Straße İstanbul ǅ ǈ",
    "cyrillic greek: Привет мир Γειά σου κόσμε",
    "devanagari thai: नमस्ते दुनिया สวัสดีชาวโลก",
    "mixed scripts: abcабвαβγ日本",
    "private use and specials: \ue000\uf8ff\ufffc\ufffd\uffff",
    "noncharacters: \ufdd0 \U0010fffd",
    "'s'S 'T'RE 'Ve 'M 'LL 'D'x",
    "a" * 300,
    "ab" * 150 + " " + "xyz" * 100,
    "😀" * 40,
    "\u00e9" * 50 + "e\u0301" * 20,
    "   \n   \n\t\n",
    "end with newline\n",
    " a b c d e f g",
    "1" * 100,
    "!" * 64 + "\n",
]
SPECIAL = [
    "almost special: <|reserved_special_token_250|> x",
    "reserved: <|reserved_special_token_5|> <|reserved_special_token_0|><|reserved_special_token_4|>",
    "<|reserved_special_token_250|>",
    "x<|reserved_special_token_247|>y<|end_of_text|>z",
]
BAD = [b"\xff", b"abc\xc3", b"\xe2\x82 truncated three-byte", b"\xed\xa0\x80 surrogate",
       b"\xc0\xaf overlong", b"\xf4\x90\x80\x80 too big", b"h\xc3\xa9llo\x80w\xc3\xb6rld",
       b"\xf0\x9f\x98 cut emoji \xf0\x9f\x98\x80 whole", b"\xfe\xfe\xfe", b"ok line",
       b"\xe0\x80\x80 overlong3", b"mix \xc3\x28 \xa0\xa1 \xe2\x28\xa1 \xf0\x28\x8c\xbc"]

NFC = []
chunk = []
for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF or 0xAC00 <= cp <= 0xD7A3:
        continue
    d = unicodedata.decomposition(chr(cp))
    if d and not d.startswith("<"):
        chunk.append("x" + unicodedata.normalize("NFD", chr(cp)))
        if len(chunk) == 16:
            NFC.append(" ".join(chunk))
            chunk = []
if chunk:
    NFC.append(" ".join(chunk))
NFC += [
    "".join(chr(0xAC00 + i) for i in range(0, 11172, 97)),
    unicodedata.normalize("NFD", "".join(chr(0xAC00 + i) for i in range(0, 11172, 89))),
    "\u1100\u1161 \u1100\u1161\u11a8 \u1100 \u1161 \uac00\u11a8 \u11a8\u1161",
    "a\u0301\u0328 a\u0328\u0301 a\u0316\u0301\u0328 o\u031b\u0323\u0309 \u0301a \u0301\u0301",
    "e\u0301\u0301 e\u0334\u0301 \u00e9\u0334 A\u030a\u0301 \u212b \u2126 \u0958 \u0f73 \u0344 \u1e9b\u0323",
    "q\u0307\u0323 \u1e0b\u0323 \u0345\u03b1 \u03b1\u0345\u0301 \u05b8\u05b9\u05b1\u0591\u05c3\u05b0\u05ac\u059f",
]

# strip.jsonl: white space (ASCII, Unicode White_Space, and look-alikes that
# are not: U+200B, U+00AD) around an lstrip token <mask> and an rstrip token
# <sep> (tokenizer.sh adds them to the Llama-2 and GPT-2 files).  U+0085
# and U+FEFF are left out: JS's trim (transformers.js) and HF's \s differ
# on them (test_tokenizer.c checks HF's side).
WS = [" ", "  ", "\t", "\n", " \n ", "\u00a0", "\u3000", "\u2003", "\u2028", "\u202f", "\u205f", "\u1680",
      " \u00a0 ", "\u200b", "\u00ad", "\u00e9", "\U0001f600"]
STRIP = []
for w in WS:
    STRIP += [f"a{w}<mask>{w}b", f"a{w}<sep>{w}b", f"{w}<mask>", f"<sep>{w}"]
STRIP += ["<mask><sep>", "x <mask> <sep> y", "x<sep> <mask>y", " <mask>  <mask> ", "<sep>\u3000<sep>\u3000"]

for name, texts in (("torture.jsonl", T), ("torture-special.jsonl", SPECIAL), ("nfc.jsonl", NFC), ("strip.jsonl", STRIP)):
    with open(name, "w", encoding="utf-8", newline="\n") as f:
        for t in texts:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
with open("invalid-utf8.txt", "wb") as f:
    for b in BAD:
        f.write(b + b"\n")
