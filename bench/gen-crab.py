#!/usr/bin/env python3
"""gen-crab.py - write a Crab-like JSONL file (shape A: messages + Aug_instruction)
of about SIZE megabytes for bench-data.sh.  Deterministic (fixed seed).

    python3 bench/gen-crab.py 200 > bench/out/crab-200m.jsonl
"""
import json
import random
import sys

WORDS = ("the of and to in is for that with on as are this be by an at from or it which your "
         "response answer should must each sentence paragraph word words include avoid keyword "
         "describe explain list write summary formal tone style example detail graph model data "
         "river mountain city history science language música información café naïve résumé "
         "structure clear concise reader audience numbered bullet section").split()
TYPES = ["Digit", "Sentence", "Word", "Keyword", "Punctuation", "Desired_Writing_Style", "Semantic_elements",
         "Morphological_Constraints", " Hierarchical_Instructions", "Paragraphs_Constraints", "Specific_Sentence",
         "Item_Listing_Details", "Length_Constraints", "Target_Audience", "Tone_and_Perspective", "Format_Constraints"]
SOURCES = ["oasst2", "alpaca", "wizardLM", "orca_chat"]


def text(rng, lo, hi):
    n = rng.randint(lo, hi)
    s = " ".join(rng.choice(WORDS) for _ in range(n))
    return s[0].upper() + s[1:] + "."


def main():
    size = int(sys.argv[1]) << 20 if len(sys.argv) > 1 else 200 << 20
    rng = random.Random(2024)
    out = sys.stdout
    written = 0
    i = 0
    while written < size:
        src = SOURCES[i % 4]
        paras = "\n\n".join(text(rng, 20, 80) for _ in range(rng.randint(1, 3)))
        nc = rng.randint(9, 16)
        types = rng.sample(TYPES, nc)
        rec = {"id": i, "cnt_id": i // 4, "source": src, "overlap": rng.randint(0, 2),
               "messages": [{"role": "user", "content": text(rng, 8, 60)},
                            {"role": "assistant", "content": paras}],
               "Aug_instruction": {"Refined_Instruction": text(rng, 10, 70),
                                   "Additional_Instruction": {t: text(rng, 6, 22) for t in types}}}
        line = json.dumps(rec, ensure_ascii=False) + "\n"
        out.write(line)
        written += len(line.encode())
        i += 1


main()
