#!/usr/bin/env python3
"""crab_forward_gen.py - build Crab final-SFT ("_forward") records from the
shape-A sample the way Crab's Forward_data_generate.py does (wrapper texts
1-11 of reference/datasets.md §1 B, the 7 joiners, 4-space indent for
wrappers 3-8, a leading newline except in the Long case, Long wrappers 9-11
when the refined instruction is shorter), written independently for the
test.  Each line carries the truth under "_truth" so the test can check
what crab-split recovered.

    crab_forward_gen.py SAMPLE.json N SEED > forward.jsonl
"""
import json
import random
import sys

W = {
    1: "{instruction}\n{additional}",
    2: "{instruction}\n\nWhen answering, please ensure that the following constraints are also met.{additional}",
    3: "Please follow the instructions below to generate your response. Additionally, make sure to adhere to the specific constraints mentioned.\n\nInstructions: {instruction}\n\nAdditional Constraints: {additional}",
    4: "Please carefully read and follow the instructions below, along with the additional restrictions provided, to generate your response.\n\nInstructions: {instruction}\n\nAdditional Restrictions: {additional}",
    5: "Please ensure you read and follow the detailed instructions and additional constraints provided below to accurately address the query.\n\n- **Instructions**: {instruction}\n- **Additional Constraints**: {additional}\n\nYour compliance with these guidelines is essential for a valid response.",
    6: "To generate your response, please adhere to the following:\n1. **Instructions**: {instruction}\n2. **Additional Constraints**: {additional}\n\nIt's important to follow these guidelines closely to ensure your response is appropriate.",
    7: "We invite you to respond by carefully considering the instructions and constraints outlined below. Your thoughtful adherence to these guidelines will greatly enhance the quality of your response.\n\n- **Instructions**: {instruction}\n- **Additional Constraints**: {additional}\n\nThank you for your attention to detail!",
    8: "Hey there! We'd love for you to take a crack at this by following the steps and rules below:\n- Here's what you need to do: {instruction}\n- Just a couple of things to keep in mind: {additional}\n\nCan't wait to see what you come up with!",
    9: "{additional}\n{instruction}",
    10: "{additional}\n\nQuery:\n{instruction}",
    11: "{instruction}\n\nWhen answering, please ensure that the following constraints are also met.\n{additional}",
}
JOINERS = [" ", "{item}", "{index}. {item}", "- {item}", "# {item}", "* {item}", "> {item}"]


def main():
    seeds = json.load(open(sys.argv[1]))
    n, rng = int(sys.argv[2]), random.Random(int(sys.argv[3]))
    for i in range(n):
        s = seeds[i % len(seeds)]
        orig, refined = s["messages"][0]["content"], s["Aug_instruction"]["Refined_Instruction"]
        cons = list(s["Aug_instruction"]["Additional_Instruction"].values())
        is_long = len(refined.split(" ")) < len(orig.split(" "))
        x = refined if (refined and not is_long and rng.random() > 0.3) else orig
        w = rng.choice([9, 10, 11]) if is_long else rng.randint(1, 8)
        j = rng.choice(JOINERS)
        chosen = rng.sample(cons, rng.randint(1, len(cons)))
        if j == " ":
            add = " ".join(chosen)
        else:
            sym = ("    " if 3 <= w <= 8 else "") + j
            add = ("" if is_long else "\n") + "\n".join(sym.format(index=k + 1, item=c) for k, c in enumerate(chosen))
        text = W[w].format(instruction=x, additional=add)
        ok = j != " " and not (j == "{item}" and w in (1, 9)) and not (j == "{item}" and len(chosen) == 1 and w in (2, 10, 11))
        rec = {"id": "%d_forward" % i, "cnt_id": str(i), "source": s["source"],
               "messages": [{"role": "user", "content": text}, {"role": "assistant", "content": s["messages"][1]["content"]}],
               "_truth": {"x": x, "constraints": chosen, "wrapper": 2 if w == 11 else w, "joiner": j, "parsable": ok}}
        print(json.dumps(rec))


main()
