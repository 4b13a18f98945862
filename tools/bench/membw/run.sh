#!/usr/bin/env bash
# Measures memory read bandwidth: tools/bench/membw/run.sh [GiB] [passes]; OMP_NUM_THREADS sets threads (default 2).
set -euo pipefail
cd "$(dirname "$0")"
gcc -O2 -mavx2 -fopenmp membw.c -o "${TMPDIR:-/tmp}/membw"
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "${TMPDIR:-/tmp}/membw" "$@"
