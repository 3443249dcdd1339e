# crab-split's default restructuring of a shape-A Crab record, in jq
# (inputs [full, single_1..single_n, bare] with --join lines, meta with the
# constraints and their types, remaining fields passed through).
.messages[0].content as $x
| [.Aug_instruction.Additional_Instruction | to_entries[] | select(.value != "")
   | {t: (.key | ltrimstr(" ")), c: .value}] as $cs
| {id: "\(.source)-\(.id)", mode: "para",
   inputs: ([$x + "\n\n" + ($cs | map(.c) | join("\n"))] + ($cs | map($x + "\n\n" + .c)) + [$x]),
   output: .messages[1].content,
   meta: {source: .source, format: "crab-aug", constraints: ($cs | map(.c)), constraint_types: ($cs | map(.t))}}
  + del(.id, .source, .messages, .Aug_instruction)
