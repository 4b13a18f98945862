#!/bin/bash
# Run-time LoRA cost, dolly against llama.cpp on one checkpoint and one PEFT adapter (issue 30), alternating.
# Usage: tools/bench/lora_llamacpp.sh DOLLY.dolly ADAPTER.dolly-lora MODEL.gguf ADAPTER.gguf LLAMA_BIN [ROUNDS=5]
# dolly: `dolly bench -p 512 -n 128 -r 1` without and with --lora. llama.cpp (llama-bench has no --lora):
# `llama-cli -no-cnv` on a 512-token prompt, 128 tokens with --ignore-eos, without and with --lora; its
# llama_perf prompt-eval and eval rates. 2 threads each. Prints one line per run: round runtime mode pp tg.
set -euo pipefail
dmodel=$1 dlora=$2 gguf=$3 glora=$4 lbin=$5 rounds=${6:-5}
dolly=${DOLLY:-.build/release/dolly}
prompt=$(mktemp)
trap 'rm -f "$prompt"' EXIT
# About 512 tokens of plain English (the words are single tokens for GPT-NeoX's tokenizer).
python3 -c "import sys; w='the city river old new house road water green field'.split(); print(' '.join(w[i % 10] for i in range(511)))" >"$prompt"
dolly_run() {  # extra flags...
    "$dolly" bench --model "$dmodel" -p 512 -n 128 -t 2 -r 1 -o json "$@" |
        python3 -c "import json,sys; d=json.load(sys.stdin); r={('tg' if x['n_gen'] else 'pp'): x['avg_ts'] for x in d}; print(round(r['pp'],2), round(r['tg'],2))"
}
llama_run() {  # extra flags...
    "$lbin/llama-cli" -m "$gguf" -f "$prompt" -n 128 --ignore-eos -no-cnv -t 2 -c 1024 --temp 0 --no-warmup "$@" </dev/null 2>&1 |
        python3 -c "
import re,sys
s=sys.stdin.read()
pp=re.search(r'prompt eval time =.*?([0-9.]+) tokens per second', s); tg=re.search(r'\n[^\n]*?  eval time =.*?([0-9.]+) tokens per second', s)
print(pp.group(1) if pp else 'NA', tg.group(1) if tg else 'NA')"
}
for r in $(seq 1 "$rounds"); do
    echo "$r dolly base $(dolly_run)"
    echo "$r dolly lora $(dolly_run --lora "$dlora")"
    echo "$r llama base $(llama_run)"
    echo "$r llama lora $(llama_run --lora "$glora")"
done
