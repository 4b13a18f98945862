#!/bin/bash
# The cost side of speculative decoding for BENCHMARKS.md (issue 24): the time of one pass of k tokens
# (k = 1..9: the fed token and up to 8 guesses) on the TARGET file, and the draft's time per generated
# token on the DRAFT file, 2 threads, 5 alternating rounds. Pass time = k / (dolly bench's t/s).
#   TARGET=/tmp/12b-q4.dolly DRAFT=/tmp/3b-q4.dolly tools/bench/speculation_costs.sh > costs.txt
set -euo pipefail
dolly=${DOLLY:-.build/release/dolly}
for r in 1 2 3 4 5; do
  for k in ${KS:-1 2 3 4 5 6 7 8 9}; do
    "$dolly" bench --model "$TARGET" -p "$k" -n 0 -d 16 -r ${REPS:-4} -t 2 -o json 2>/dev/null | python3 -c "
import json,sys
d=json.load(sys.stdin); d=d if isinstance(d,list) else [d]
for t in d:
    if t.get('n_prompt',0)>0: print('pass', $r, $k, 1000 * $k / t['avg_ts'])"
  done
  "$dolly" bench --model "$DRAFT" -p 0 -n 16 -d 16 -r ${REPS:-4} -t 2 -o json 2>/dev/null | python3 -c "
import json,sys
d=json.load(sys.stdin); d=d if isinstance(d,list) else [d]
for t in d:
    if t.get('n_gen',0)>0: print('draft', $r, 1, 1000 / t['avg_ts'])"
done
