#!/usr/bin/env bash
# Builds tools/ci/csimd-selftest/selftest.c straight from CSIMD/*.c and runs it (every kernel path this
# machine can run, incl. the R16 tile kernels against csimd_r16_tile_ref):
#   1. native (x86-64 here), with OpenMP (gcc -fopenmp, libgomp);
#   2. aarch64: cross-built with Debian's gcc-aarch64-linux-gnu and run under qemu-user
#      (qemu's default CPU "max" has dotprod, so both neon paths run; skipped if the tools are missing).
# Install the cross tools with: apt-get install -y gcc-aarch64-linux-gnu qemu-user
# SANITIZE=address,undefined (gcc -fsanitize list) builds both under the sanitizers, any report fatal;
# float-cast-overflow is added to "undefined" (gcc leaves it out); qemu-user runs only UBSan.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || echo "$here/../../..")"  # the repository root
out="${TMPDIR:-/tmp}/csimd-selftest"
mkdir -p "$out"
srcs=(CSIMD/*.c tools/ci/csimd-selftest/selftest.c)
flags=(-O2 -std=gnu11 -Wall -Wno-strict-aliasing -ICSIMD/include -ICSIMD -fopenmp)
status=0
native_san=()
arm_san=()
if [ -n "${SANITIZE:-}" ]; then
    list="$SANITIZE"
    case ",$list," in *,undefined,*) list="$list,float-cast-overflow"; arm_san=(-fsanitize=undefined,float-cast-overflow -fno-sanitize-recover=all -g) ;; esac
    native_san=(-fsanitize="$list" -fno-sanitize-recover=all -g -fno-omit-frame-pointer)
    echo "== sanitizers: native $list${arm_san:+, aarch64 undefined,float-cast-overflow}"
fi

CC="${CC:-gcc}"
source tools/ci/omp-paths.sh
omp_cc_flags "$CC"  # clang: omp.h / libomp from Debian's LLVM 14 (as Package.swift does)
echo "== native ($CC)"
"$CC" "${flags[@]}" "${native_san[@]}" "${OMP_CC_FLAGS[@]}" "${srcs[@]}" -o "$out/selftest-native" -lm -lpthread
OMP_NUM_THREADS=2 "$out/selftest-native" || status=1

if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
    echo "== aarch64 (cross gcc + qemu-aarch64)"
    aarch64-linux-gnu-gcc "${flags[@]}" "${arm_san[@]}" "${srcs[@]}" -o "$out/selftest-aarch64" -lm -lpthread
    OMP_NUM_THREADS=2 qemu-aarch64 -L /usr/aarch64-linux-gnu "$out/selftest-aarch64" || status=1
else
    echo "== aarch64 skipped (need aarch64-linux-gnu-gcc and qemu-aarch64)"
fi
exit $status
