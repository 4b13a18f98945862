#!/bin/bash
# Inter-token latency of running streams while long prompts arrive (issue 24: chunked prefill keeps
# ITL bounded). dolly serve --parallel 4, 2048 tokens per slot, 2 threads, --no-prefix-cache (every long
# prompt is read again); per round and --batch-rows setting: 3 clients stream 128-token greedy answers
# (serve_load.py's fixed 100-token prompt), alone, then again while a 4th client sends LONG-token raw
# prompts (max_tokens 1) back to back. Prints: round rows condition tok/s ITL-p50 ITL-p99 ITL-max.
#   MODEL=/tmp/3b-q4.dolly LONG=1500 ROWS="64 16" tools/bench/serve_long_prompts.sh
M=${MODEL:-3b-q4.dolly}
R=${ROUNDS:-5}
B=${DOLLY:-.build/release/dolly}
ROWS=${ROWS:-64 16}
LONG=${LONG:-1500}
python3 - "$LONG" > /tmp/long-prompt.txt <<'PY'
import sys
words = open("Tests/Fixtures/heldout.txt", encoding="utf-8").read().split()
print(" ".join(words[: int(int(sys.argv[1]) * 0.75)]))  # about 1.3 tokens per word of this text
PY
port=18700
pids=()
for rows in $ROWS; do
  port=$((port + 1))
  $B serve --model $M --parallel 4 --context 2048 -t 2 --batch-rows $rows --no-prefix-cache --port $port 2>/tmp/slp-$rows.log &
  pids+=($!)
done
trap 'kill -INT ${pids[@]} 2>/dev/null; wait' EXIT
for rows in $ROWS; do for i in $(seq 1 120); do grep -q listening /tmp/slp-$rows.log && break; sleep 1; done; done
stream() {  # port
  python3 tools/bench/serve_load.py --url http://127.0.0.1:$1 --clients 3 --requests 2 --max-tokens 128 --warmup 1 --json
}
for r in $(seq 1 $R); do
  port=18700
  for rows in $ROWS; do
    port=$((port + 1))
    stream $port | python3 -c "import json,sys; d=json.load(sys.stdin); print($r, $rows, 'alone', round(d['tokens_per_s'],1), d['itl_ms']['p50'], d['itl_ms']['p99'], d['itl_ms'].get('max'), d['errors'])"
    python3 tools/bench/serve_load.py --url http://127.0.0.1:$port --clients 1 --requests 100 --max-tokens 1 --warmup 0 \
      --prompt-file /tmp/long-prompt.txt --json > /tmp/slp-long.json 2>/dev/null &
    lp=$!
    sleep 2  # the first long prompt is being read
    stream $port | python3 -c "import json,sys; d=json.load(sys.stdin); print($r, $rows, 'long-prompts', round(d['tokens_per_s'],1), d['itl_ms']['p50'], d['itl_ms']['p99'], d['itl_ms'].get('max'), d['errors'])"
    kill $lp 2>/dev/null; wait $lp 2>/dev/null
    sleep 3  # let the long prompt in flight finish
  done
done
