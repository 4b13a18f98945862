#!/usr/bin/env bash
# Builds and runs tools/csimd-bench/bench.c with the Swift toolchain's clang and Debian's libomp (as SwiftPM does).
# Usage: tools/csimd-bench/run.sh [rows cols tokens path]; OMP_NUM_THREADS sets the thread count (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${TMPDIR:-/tmp}/csimd-bench"
source tools/omp-paths.sh  # (cwd: the repository root)
clang -O3 -fopenmp -fno-math-errno "${OMP_CLANG_FLAGS[@]}" -ICSIMD/include -ICSIMD CSIMD/*.c tools/csimd-bench/bench.c \
    -lomp -lm -lpthread -o "$out"
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "$out" "$@"
