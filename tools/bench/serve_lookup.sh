#!/bin/bash
# dolly serve on the 3b-shaped q4 (MODEL=FILE), 4 slots, 2 threads: 4 clients x 2 requests x 128 tokens, with and
# without --lookup 4, 3 alternating rounds; both servers up, each idle while the other is measured.
M=${MODEL:-/tmp/3b-q4.dolly}
.build/release/dolly serve --model $M --parallel 4 --context 512 -t 2 --port 18501 2>/tmp/sA.log &
A=$!
.build/release/dolly serve --model $M --parallel 4 --context 512 -t 2 --port 18502 --lookup 4 2>/tmp/sB.log &
B=$!
for i in $(seq 1 60); do grep -q listening /tmp/sA.log && grep -q listening /tmp/sB.log && break; sleep 1; done
for r in 1 2 3 4 5 6; do
  for p in 18501 18502; do
    python3 tools/bench/serve_load.py --url http://127.0.0.1:$p --clients 4 --requests 2 --max-tokens 128 --warmup 1 --json \
      | python3 -c "import json,sys; d=json.load(sys.stdin); print($r, $p, round(d['tokens_per_s'], 2), round(d['itl_ms']['p99'], 1), d['finish_reasons'])"
  done
done
curl -s http://127.0.0.1:18502/metrics | grep lookup
kill -INT $A $B; wait
