#!/usr/bin/env bash
# The C side of libdolly for Arm boards (issue 22, part 4), cross-built with Debian's
# gcc-aarch64-linux-gnu: the CSIMD kernels as a static archive, for plain ARMv8-A (NEON: Raspberry Pi 4,
# Cortex-A72) and for ARMv8.2-A with dotprod (Raspberry Pi 5, Cortex-A76), and the C example and
# test compiled against dolly.h. The Swift half (DollyKit, DollyC) needs Swift's aarch64 toolchain on
# the board (README, "Arm boards"); the kernels themselves run under qemu in csimd-selftest/run.sh.
set -euo pipefail
cd "$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
if ! command -v aarch64-linux-gnu-gcc >/dev/null; then
  echo "arm_cross: skipped (apt-get install gcc-aarch64-linux-gnu)"
  exit 0
fi
out="${TMPDIR:-/tmp}/dolly-arm"
rm -rf "$out" && mkdir -p "$out"
flags=(-O3 -std=gnu11 -Wall -Werror -Wno-strict-aliasing -fno-math-errno -fopenmp -ICSIMD/include -ICSIMD)
for cpu in armv8-a armv8.2-a+dotprod; do
  dir="$out/$cpu"
  mkdir -p "$dir"
  for f in CSIMD/*.c; do aarch64-linux-gnu-gcc "${flags[@]}" -march="$cpu" -c "$f" -o "$dir/$(basename "${f%.c}").o"; done
  aarch64-linux-gnu-ar rcs "$dir/libcsimd.a" "$dir"/*.o
  echo "arm_cross: CSIMD for -march=$cpu: $(ls "$dir"/*.o | wc -l) objects, libcsimd.a $(stat -c %s "$dir/libcsimd.a") bytes"
done
for f in Examples/c/dolly_run.c Examples/c/test_capi.c Sources/CDolly/dolly_abi.c; do
  aarch64-linux-gnu-gcc -O2 -std=c99 -Wall -Wextra -Werror -ISources/CDolly/include -c "$f" -o "$out/$(basename "${f%.c}").o"
done
echo "arm_cross: dolly.h, dolly_run.c, test_capi.c and dolly_abi.c compile for aarch64 (-std=c99 -Wall -Wextra -Werror)"
