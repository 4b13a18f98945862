#!/bin/bash
# Aggregate generation throughput of dolly serve at 1, 8 and 16 streams (MODEL=FILE, default the
# 3b-shaped q4), 2 threads, 512 tokens per slot, ROUNDS alternating rounds (default 5): 1 and 8 clients
# against --parallel 8, 16 clients against --parallel 16; both servers up, each idle while the other is
# measured. serve_load.py: greedy streamed completions of its fixed 100-token prompt, 128 tokens each.
M=${MODEL:-3b-q4.dolly}
R=${ROUNDS:-5}
B=${DOLLY:-.build/release/dolly}
$B serve --model $M --parallel 8 --context 512 -t 2 --port 18601 2>/tmp/s8.log &
P8=$!
$B serve --model $M --parallel 16 --context 512 -t 2 --port 18602 2>/tmp/s16.log &
P16=$!
for i in $(seq 1 120); do grep -q listening /tmp/s8.log && grep -q listening /tmp/s16.log && break; sleep 1; done
for r in $(seq 1 $R); do
  for run in "18601 1" "18601 8" "18602 16"; do
    set -- $run
    python3 tools/bench/serve_load.py --url http://127.0.0.1:$1 --clients $2 --requests 2 --max-tokens 128 --warmup 1 --json \
      | python3 -c "import json,sys; d=json.load(sys.stdin); print($r, $2, round(d['tokens_per_s'], 2), round(d['itl_ms']['p99'], 1), d['errors'], d['short_answers'])"
  done
done
kill -INT $P8 $P16; wait
