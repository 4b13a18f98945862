#!/usr/bin/env bash
# The README's first command under default sampling for seeds 1..N: prints each answer and how it
# ended, then how many ended with ### End on their own (stop reason "stopToken").
#   tools/demo/demo_seeds.sh [N] [INSTRUCTION]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || echo "$here/../..")"  # the repository root
n=${1:-10}
instruction=${2:-'What does the word "ephemeral" mean?'}
swift build -c release --product dolly >/dev/null
ended=0
for seed in $(seq 1 "$n"); do
    answer=$(.build/release/dolly run --model models/dolly-demo --seed "$seed" --verbose "$instruction" 2>/tmp/demo_seeds.err)
    stop=$(sed -n 's/.*stop: \([a-zA-Z]*\).*/\1/p' /tmp/demo_seeds.err)
    [ "$stop" = stopToken ] && ended=$((ended + 1))
    printf 'seed %2d [%s] %s\n' "$seed" "$stop" "$(echo "$answer" | tr '\n' ' ')"
done
echo "$ended/$n answers ended with ### End"
