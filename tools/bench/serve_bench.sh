#!/usr/bin/env bash
# dolly serve against llama.cpp's llama-server under the same load, alternating, for BENCHMARKS.md.
# Usage: [PARALLEL=4] [CLIENTS="1 4"] tools/bench/serve_bench.sh DOLLY_MODEL.dolly MODEL.gguf LLAMA_BIN_DIR [ROUNDS=5] [OUT=/tmp/serve-bench]
# Equal setups: 2 threads each; PARALLEL slots of 512 tokens each (llama-server splits -c across --parallel);
# both reuse a slot's cached prompt prefix (their defaults); greedy; every answer --max-tokens long
# (llama-server: ignore_eos; dolly's answers on these checkpoints run to the limit, which the summary
# checks: finish_reason "length"). Both servers stay up, idle while the other is measured; the load
# generator (tools/bench/serve_load.py) reports its own CPU use.
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null || echo "$(dirname "$0")/../..")"
dmodel=$1 gguf=$2 lbin=$3 rounds=${4:-5} out=${5:-/tmp/serve-bench}
dolly=${DOLLY:-.build/release/dolly}
slots=${PARALLEL:-4} clients=${CLIENTS:-1 4}
mkdir -p "$out"
"$dolly" serve --model "$dmodel" --port 8094 --parallel "$slots" --context 512 -t 2 2>"$out/dolly.err" &
dpid=$!
"$lbin/llama-server" -m "$gguf" -c $((512 * slots)) --parallel "$slots" -t 2 --port 8095 >"$out/llama.log" 2>&1 &
lpid=$!
trap 'kill -INT $dpid 2>/dev/null; kill $lpid 2>/dev/null' EXIT
for _ in $(seq 1 120); do
    grep -q listening "$out/dolly.err" && curl -sf localhost:8095/health >/dev/null && break
    sleep 1
done
load() {  # name url clients extra-json
    python3 tools/bench/serve_load.py --url "$2" --clients "$3" --requests 4 --max-tokens 128 --warmup 1 \
        --extra-json "$4" --json >"$out/$1-c$3-r$r.json"
}
for r in $(seq 1 "$rounds"); do
    for c in $clients; do
        load dolly http://127.0.0.1:8094 "$c" '{}'
        load llama http://127.0.0.1:8095 "$c" '{"ignore_eos": true}'
    done
    echo "round $r done" >&2
done
grep -E "VmHWM" /proc/$dpid/status | sed 's/^/dolly serve /' >"$out/rss.txt"
grep -E "VmHWM" /proc/$lpid/status | sed 's/^/llama-server /' >>"$out/rss.txt"
cat "$out/rss.txt"
