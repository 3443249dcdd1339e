# miso-chunk's restructuring in jq: the user turn cut after spaces into k
# near-equal pieces (jq has no seeded PRNG, so k = id mod 4 + 1 here).
.messages[0].content as $x
| ($x | length) as $n
| (.id % 4 + 1) as $k
| [$x | indices(" ")[] + 1] as $c
| (if ($c | length) == 0 or $k == 1 then [0, $n]
   else [0] + [range(1; $k) as $j | ($j * $n / $k) as $t
               | $c | min_by(if . < $t then $t - . else . - $t end)] + [$n] | unique end) as $cut
| {id: (.id | tostring), mode: "succ",
   inputs: [range(0; ($cut | length) - 1) as $i | $x[$cut[$i]:$cut[$i + 1]]],
   output: .messages[1].content,
   meta: {source: .source, format: "messages", chunks: (($cut | length) - 1)}}
  + del(.id, .source, .messages)
