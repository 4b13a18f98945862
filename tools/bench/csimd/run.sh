#!/usr/bin/env bash
# Builds one C micro-benchmark of CSIMD straight from CSIMD/*.c with SwiftPM's compiler and flags
# (clang -O3, OpenMP from Debian's LLVM 14) and runs it:
#   tools/bench/csimd/run.sh matmul [options]                      csimd_matrix_multiply (matmul.c: --help)
#   tools/bench/csimd/run.sh ops [n_tokens n_heads head_dim path threads]  GELU and attention, reference vs fast (ops.c)
#   tools/bench/csimd/run.sh lora [rows cols rank groups]          csimd_lora_apply_groups in decoding (lora.c)
# OMP_NUM_THREADS sets the thread count (default 2); CC=gcc builds with gcc and libgomp instead.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || echo "$here/../../..")"  # the repository root
name="${1:-}"
if [ -z "$name" ] || [ ! -f "tools/bench/csimd/$name.c" ]; then
    echo "usage: tools/bench/csimd/run.sh matmul|ops|lora [args]" >&2
    exit 2
fi
shift
source tools/ci/omp-paths.sh
omp_cc_flags "${CC:=clang}"
out="${TMPDIR:-/tmp}/dolly-csimd-bench"
mkdir -p "$out"
"$CC" -O3 -std=gnu11 -fno-math-errno -fopenmp "${OMP_CC_FLAGS[@]}" -ICSIMD/include -ICSIMD CSIMD/*.c \
    "tools/bench/csimd/$name.c" -o "$out/$name" -lm -lpthread
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "$out/$name" "$@"
