#!/bin/bash
# What a run-time adapter costs `dolly bench` (issue 30): pp512 and tg128 of one file alone, with an f16
# adapter and with a q8 one, alternating, one repetition per process, ROUNDS rounds (default 7); prints
# every run, then each mode's medians and their ratios to the base.
# Usage: tools/bench/lora_cost.sh [MODEL.dolly F16.dolly-lora Q8.dolly-lora]  (defaults: /tmp/lr-3b-*,
# made as BENCHMARKS.md "Run-time LoRA adapters" shows)
set -euo pipefail
model=${1:-/tmp/lr-3b-q4.dolly} f16=${2:-/tmp/lr-3b-r16.dolly-lora} q8=${3:-/tmp/lr-3b-r16-q8.dolly-lora}
dolly=${DOLLY:-.build/release/dolly}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for r in $(seq 1 "${ROUNDS:-7}"); do
    for mode in base f16 q8; do
        extra=()
        [ "$mode" = f16 ] && extra=(--lora "$f16")
        [ "$mode" = q8 ] && extra=(--lora "$q8")
        "$dolly" bench --model "$model" -p 512 -n 128 -t 2 -r 1 -o json "${extra[@]}" |
            python3 -c "import json,sys; d=json.load(sys.stdin); r={('tg' if x['n_gen'] else 'pp'): x['avg_ts'] for x in d}; print($r, '$mode', round(r['pp'], 2), round(r['tg'], 2))" |
            tee -a "$log"
    done
done
python3 - "$log" <<'PY'
import statistics, sys
runs = [l.split() for l in open(sys.argv[1])]
med = {(m, k): statistics.median(float(r[2 + i]) for r in runs if r[1] == m) for m in ("base", "f16", "q8") for i, k in enumerate(("pp", "tg"))}
for m in ("base", "f16", "q8"):
    line = f"{m:5} pp512 {med[(m, 'pp')]:7.2f}  tg128 {med[(m, 'tg')]:6.2f}"
    if m != "base":
        line += f"   ratio pp {med[(m, 'pp')] / med[('base', 'pp')]:.3f}  tg {med[(m, 'tg')] / med[('base', 'tg')]:.3f}"
    print(line)
PY
