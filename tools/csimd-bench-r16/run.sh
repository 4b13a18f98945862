#!/usr/bin/env bash
# Builds bench.c straight from CSIMD/*.c with the flags SwiftPM uses (clang -O3, OpenMP) and runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${TMPDIR:-/tmp}/csimd-bench-r16"
mkdir -p "$out"
CC="${CC:-clang}"
extra=()
if "$CC" --version 2>/dev/null | grep -q clang; then
    source tools/omp-paths.sh  # (cwd: the repository root)
    extra=("${OMP_CLANG_FLAGS[@]}")
fi
"$CC" -O3 -fno-math-errno -std=gnu11 -fopenmp "${extra[@]}" -ICSIMD/include -ICSIMD CSIMD/*.c \
    tools/csimd-bench-r16/bench.c -o "$out/bench" -lm -lpthread
"$out/bench" "$@"
