#!/usr/bin/env bash
# Builds and runs tools/csimd-bench/bench.c with the Swift toolchain's clang and Debian's libomp (as SwiftPM does).
# Usage: tools/csimd-bench/run.sh [rows cols tokens path]; OMP_NUM_THREADS sets the thread count (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${TMPDIR:-/tmp}/csimd-bench"
omp=/usr/lib/llvm-14
clang -O3 -fopenmp -fno-math-errno -I$omp/lib/clang/14.0.6/include -ICSIMD/include -ICSIMD CSIMD/*.c tools/csimd-bench/bench.c \
    -L$omp/lib -Wl,-rpath,$omp/lib -lomp -lm -lpthread -o "$out"
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "$out" "$@"
