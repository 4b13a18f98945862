#!/bin/bash
# 5 alternating rounds of one forward pass of k tokens at depth 256, 3b-shaped q4, 2 threads.
for r in 1 2 3 4 5; do
  for k in 1 2 3 5 9; do
    .build/release/dolly bench --model ${MODEL:-3b-q4.dolly} -p $k -n 0 -d 256 -r 2 -t 2 -o json 2>/dev/null | python3 -c "
import json,sys
d=json.load(sys.stdin); d=d if isinstance(d,list) else [d]
for t in d:
    if t.get('n_prompt',0)>0: print($r,$k,t['avg_ts'])"
  done
done
