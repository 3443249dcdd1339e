#!/bin/bash
# report.sh - miso-report: table forms, missing pieces, bad input, and the
# HTML page rendered in headless Chromium (screenshot decoded and checked).
set -u
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "PASS: $1"; }
bad() { failed=$((failed + 1)); echo "FAIL: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

summary() { # file sp si lp li [per_instruction json]
    printf '{\n  "prompt_level_strict_acc": %s,\n  "inst_level_strict_acc": %s,\n  "prompt_level_loose_acc": %s,\n  "inst_level_loose_acc": %s,\n  "n_prompts": 541,\n  "n_instructions": 834,\n  "per_instruction": %s,\n  "per_category": {},\n  "input": "in.jsonl",\n  "responses": "r.jsonl"\n}\n' \
        "$2" "$3" "$4" "$5" "${6:-{\}}" >"$1"
}
summary "$T/sft.json" 0.401 0.519 0.447 0.556 \
    '{"punctuation:no_comma": {"n": 66, "strict": 0.80, "loose": 0.85}, "detectable_format:title": {"n": 37, "strict": 0.5, "loose": 0.6}}'
summary "$T/para.json" 0.445 0.547 0.495 0.595 \
    '{"punctuation:no_comma": {"n": 66, "strict": 0.90, "loose": 0.95}, "keywords:existence": {"n": 39, "strict": 0.7, "loose": 0.75}}'
summary "$T/succ.json" 0.447 0.549 0.479 0.579
summary "$T/sft-flat.json" 0.6 0.525 0.6 0.565
summary "$T/para-flat.json" 0.6 0.584 0.6 0.621
awk 'BEGIN { for (s = 1; s <= 120; s++) printf "{\"step\": %d, \"loss\": %.4f, \"lr\": 5e-06}\n", s, 2.5 * exp(-s / 40) + 0.7 }' >"$T/sft.log"
awk 'BEGIN { for (s = 1; s <= 120; s++) printf "{\"step\": %d, \"loss\": %.4f}\n", s, 2.8 * exp(-s / 30) + 0.6 }' >"$T/para.log"

# ---- table forms
miso-report --run "sft:$T/sft.json:$T/sft-flat.json:$T/sft.log" --run "para:$T/para.json:$T/para-flat.json:$T/para.log" \
    "succ:$T/succ.json" --csv "$T/t.csv" --html "$T/t.html" >"$T/t.md" 2>"$T/err"
rc=$?
check "exits 0 for three runs with csv and html" '[ $rc = 0 ]'
check "prints the paper column headers in Markdown" 'head -1 "$T/t.md" | grep -q "| Model | IFEval \[S\]P | IFEval \[S\]I | IFEval \[L\]P | IFEval \[L\]I | IFEval Avg | Flatten \[S\]I | Flatten \[L\]I | Flatten Avg |"'
check "prints percent with two decimals and the IFEval average" 'grep -qF "| sft | 40.10 | 51.90 | 44.70 | 55.60 | 48.08 | 52.50 | 56.50 | 54.50 |" "$T/t.md"'
check "bolds the best value of each column" 'grep -qF "| para | 44.50 | 54.70 | **49.50** | **59.50** | **52.05** | **58.40** | **62.10** | **60.25** |" "$T/t.md"'
check "shows a run without flatten summary as en dashes" 'grep -qF "| succ | **44.70** | **54.90** | 47.90 | 57.90 | 51.35 | – | – | – |" "$T/t.md"'
check "writes CSV with plain numbers and a best column" 'grep -qxF "para,44.50,54.70,49.50,59.50,52.05,58.40,62.10,60.25,ifeval_lp;ifeval_li;ifeval_avg;flatten_si;flatten_li;flatten_avg" "$T/t.csv" && grep -qxF "succ,44.70,54.90,47.90,57.90,51.35,,,,ifeval_sp;ifeval_si" "$T/t.csv"'
check "writes a CSV header naming every column" 'head -1 "$T/t.csv" | grep -qxF "model,ifeval_sp,ifeval_si,ifeval_lp,ifeval_li,ifeval_avg,flatten_si,flatten_li,flatten_avg,best"'
check "keeps stdout free of talk (message on stderr only)" 'grep -q "wrote" "$T/err" && ! grep -q wrote "$T/t.md"'

# ties: equal values after rounding are all marked
summary "$T/a.json" 0.5 0.5 0.5 0.5
summary "$T/b.json" 0.50001 0.4 0.4 0.4
miso-report -r "a:$T/a.json" -r "b:$T/b.json" --no-markdown --csv - >"$T/tie.csv"
check "marks every run tied for best after rounding" 'grep -q "^a,.*,ifeval_sp;ifeval_si;ifeval_lp;ifeval_li;ifeval_avg$" "$T/tie.csv" && grep -q "^b,.*,ifeval_sp$" "$T/tie.csv"'
miso-report -r 'x|y,"z":'"$T/a.json" --csv "$T/q.csv" >"$T/q.md"
check "quotes a CSV name with commas and escapes a Markdown pipe" 'grep -q "^\"x|y,\"\"z\"\"\"," "$T/q.csv" && grep -qF "| x\|y,\"z\" |" "$T/q.md"'

# ---- HTML content
check "HTML is self-contained (no script, link, image or external URL)" '! grep -Eiq "<script|<link|<img|src=|href=|@import|url\(" "$T/t.html" && [ -z "$(grep -Eo "https?://[^\" ]+" "$T/t.html" | grep -vx "http://www.w3.org/2000/svg")" ]'
check "HTML has the table, the bar plot and the loss plot" '[ "$(grep -c "<svg" "$T/t.html")" = 2 ] && grep -q "<table>" "$T/t.html"'
check "HTML draws one loss curve per run with a log" '[ "$(grep -c "<polyline" "$T/t.html")" = 2 ]'
check "HTML draws one bar per run and instruction id present" '[ "$(grep -c "<rect x=\"300\"" "$T/t.html")" = 4 ]'
check "HTML bolds best cells and dashes missing ones" 'grep -q "<b>60.25</b>" "$T/t.html" && grep -q "<td class=\"sep\">–</td>" "$T/t.html"'
miso-report -r "only:$T/succ.json" --html "$T/none.html" --no-markdown -q 2>"$T/err"
check "HTML says so when no log and no per-instruction data exist" 'grep -q "No training logs given" "$T/none.html" && grep -q "No per-instruction results" "$T/none.html" && [ ! -s "$T/err" ]'

# ---- headless Chromium screenshot
if command -v chromium >/dev/null 2>&1; then
    prof=$(mktemp -d)
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$prof" --screenshot="$T/shot.png" --window-size=1200,1600 \
        "file://$T/t.html" >/dev/null 2>&1
    rm -rf "$prof"
    check "Chromium writes a screenshot of the HTML page" '[ -s "$T/shot.png" ]'
    # A tiny PNG decoder: size from IHDR, then inflate the IDAT stream and
    # undo the row filters to count colours and find where ink is.
    python3 - "$T/shot.png" >"$T/png.txt" 2>&1 <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, typ = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if typ == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif typ == b"IDAT":
        idat += body
    pos += 12 + n
bpp = {2: 3, 6: 4}[ctype]
raw = zlib.decompress(idat)
stride = w * bpp
rows, prev, i = [], bytearray(stride), 0
for y in range(h):
    f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line
colours = set()
ink_top = ink_mid = 0
for y in range(0, h, 2):
    r = rows[y]
    for x in range(0, w, 2):
        px = r[x * bpp:x * bpp + 3]
        colours.add(px)
        if px != b"\xff\xff\xff":
            if y < 250: ink_top += 1
            elif y < 900: ink_mid += 1
# the palette's first two colours must appear (bars and curves)
blue = any(bytes.fromhex("4e79a7") in rows[y] for y in range(h))
orange = any(bytes.fromhex("f28e2b") in rows[y] for y in range(h))
print(w, h, len(colours), ink_top, ink_mid, int(blue), int(orange))
EOF
    read -r pw ph ncol itop imid blue orange <"$T/png.txt"
    check "screenshot is 1200x1600" '[ "${pw:-0}" = 1200 ] && [ "${ph:-0}" = 1600 ]'
    check "screenshot is not blank (many distinct colours)" '[ "${ncol:-0}" -gt 30 ]'
    check "screenshot shows the table at the top and plots below it" '[ "${itop:-0}" -gt 2000 ] && [ "${imid:-0}" -gt 5000 ]'
    check "screenshot shows the run colours of the bars and curves" '[ "${blue:-0}" = 1 ] && [ "${orange:-0}" = 1 ]'
else
    bad "chromium is installed (scripts/deps.sh lists it)"
fi

# ---- bad input
miso-report -r "x:$T/nope.json" >/dev/null 2>"$T/err"; rc=$?
check "rejects a missing summary file with its name, exit 1" '[ $rc = 1 ] && grep -qx "miso-report: $T/nope.json: cannot open: No such file or directory" "$T/err"'
printf '{\n  "prompt_level_strict_acc": 0.5,\n  "inst_level_strict_acc": ,\n}\n' >"$T/mal.json"
miso-report -r "x:$T/mal.json" >/dev/null 2>"$T/err"; rc=$?
check "rejects a malformed summary naming line 3" '[ $rc = 1 ] && grep -qx "miso-report: $T/mal.json:3: malformed JSON" "$T/err"'
printf '{"prompt_level_strict_acc": 0.5, "inst_level_strict_acc": 0.5, "prompt_level_loose_acc": 0.5}\n' >"$T/miss.json"
miso-report -r "x:$T/miss.json" >/dev/null 2>"$T/err"; rc=$?
check "rejects a summary missing a metric, naming it" '[ $rc = 1 ] && grep -qx "miso-report: $T/miss.json: missing metric '"'"'inst_level_loose_acc'"'"'" "$T/err"'
miso-report -r "x:$T/a.json:$T/miss.json" >/dev/null 2>"$T/err"; rc=$?
check "rejects a flatten summary missing inst_level_loose_acc" '[ $rc = 1 ] && grep -q "miss.json: missing metric" "$T/err"'
summary "$T/pct.json" 45 0.5 0.5 0.5
miso-report -r "x:$T/pct.json" >/dev/null 2>"$T/err"; rc=$?
check "rejects a metric given in percent instead of a fraction" '[ $rc = 1 ] && grep -q "not a number between 0 and 1" "$T/err"'
printf '{"step": 1, "loss": 2.0}\n{"step": 2}\n' >"$T/bad.log"
miso-report -r "x:$T/a.json::$T/bad.log" >/dev/null 2>"$T/err"; rc=$?
check "rejects a log line without loss naming line 2" '[ $rc = 1 ] && grep -qx "miso-report: $T/bad.log:2: missing numeric '"'"'loss'"'"'" "$T/err"'
miso-report >/dev/null 2>"$T/err"; rc=$?
check "exits 2 with no runs" '[ $rc = 2 ] && grep -q "no runs given" "$T/err"'
miso-report -r "x" >/dev/null 2>"$T/err"; rc=$?
check "exits 2 for a run without a summary" '[ $rc = 2 ] && grep -q "needs an IFEval summary" "$T/err"'
miso-report -r ":$T/a.json" >/dev/null 2>"$T/err"; rc=$?
check "exits 2 for a run with an empty name" '[ $rc = 2 ] && grep -q "empty name" "$T/err"'
miso-report -r "x:$T/a.json" --html "$T/nodir/x.html" >/dev/null 2>"$T/err"; rc=$?
check "fails with exit 1 when the HTML file cannot be written" '[ $rc = 1 ] && [ ! -e "$T/nodir/x.html" ]'
check "--help prints usage to stdout and exits 0" 'miso-report --help | grep -q "^usage: miso-report"'
check "--version prints the project version" '[ "$(miso-report --version)" = "miso-report (miso) 0.1" ]'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
