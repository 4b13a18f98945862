#!/usr/bin/env bash
# Builds and runs tools/csimd-bench/ops_bench.c (GELU and attention timings, old vs new kernels).
# Usage: tools/csimd-bench/run_ops.sh [n_tokens n_heads head_dim path]; OMP_NUM_THREADS sets the thread count (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${TMPDIR:-/tmp}/csimd-ops-bench"
omp=/usr/lib/llvm-14
clang -O3 -fopenmp -fno-math-errno -I$omp/lib/clang/14.0.6/include -ICSIMD/include -ICSIMD CSIMD/*.c tools/csimd-bench/ops_bench.c \
    -L$omp/lib -Wl,-rpath,$omp/lib -lomp -lm -lpthread -o "$out"
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "$out" "$@"
