#!/bin/bash
# dolly serve on the 3b-shaped q4 (MODEL=FILE), 4 slots, 2 threads, four f16 and four q8 rank-16 adapters loaded
# (F16=a,b,c,d Q8=a,b,c,d: four files each, e.g. from tools/bench/make_random_lora.py): 4 clients x 2 requests x 64
# tokens (REQUESTS per client, default 2) all on the base, one adapter per client (f16), one per client (q8);
# ROUNDS alternating rounds (default 5); MODES (default "base f16 q8"); DOLLY the binary.
M=${MODEL:-/tmp/lr-3b-q4.dolly}
IFS=, read -ra F16 <<< "${F16:-/tmp/lr-3b-r16.dolly-lora,/tmp/lr-3b-r16b.dolly-lora,/tmp/lr-3b-r16c.dolly-lora,/tmp/lr-3b-r16d.dolly-lora}"
IFS=, read -ra Q8 <<< "${Q8:-/tmp/lr-3b-r16-q8.dolly-lora,/tmp/lr-3b-r16b-q8.dolly-lora,/tmp/lr-3b-r16c-q8.dolly-lora,/tmp/lr-3b-r16d-q8.dolly-lora}"
name=$(basename "$M" .dolly)
args=()
for i in 0 1 2 3; do args+=(--lora "f$i=${F16[$i]}" --lora "q$i=${Q8[$i]}"); done
"${DOLLY:-.build/release/dolly}" serve --model "$M" --parallel 4 --context 512 -t 2 --port 18511 --no-prefix-cache "${args[@]}" 2>/tmp/serve-lora.log &
S=$!
for i in $(seq 1 90); do grep -q listening /tmp/serve-lora.log && break; sleep 1; done
for r in $(seq 1 "${ROUNDS:-5}"); do
  for mode in ${MODES:-base f16 q8}; do
    case $mode in
      base) models=$name ;;
      f16) models=$name+f0,$name+f1,$name+f2,$name+f3 ;;
      q8) models=$name+q0,$name+q1,$name+q2,$name+q3 ;;
    esac
    python3 tools/bench/serve_load.py --url http://127.0.0.1:18511 --clients 4 --requests "${REQUESTS:-2}" --max-tokens 64 --warmup 1 \
      --prompt "The history of the city" --models "$models" --json \
      | python3 -c "import json,sys; d=json.load(sys.stdin); print($r, '$mode', round(d['tokens_per_s'], 2), round(d['itl_ms']['p99'], 1), d['finish_reasons'])"
  done
done
kill -INT $S; wait
