#!/usr/bin/env bash
# Builds and runs tools/csimd-bench/ops_bench.c (GELU and attention timings, old vs new kernels).
# Usage: tools/csimd-bench/run_ops.sh [n_tokens n_heads head_dim path]; OMP_NUM_THREADS sets the thread count (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${TMPDIR:-/tmp}/csimd-ops-bench"
source tools/omp-paths.sh  # (cwd: the repository root)
clang -O3 -fopenmp -fno-math-errno "${OMP_CLANG_FLAGS[@]}" -ICSIMD/include -ICSIMD CSIMD/*.c tools/csimd-bench/ops_bench.c \
    -lomp -lm -lpthread -o "$out"
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "$out" "$@"
