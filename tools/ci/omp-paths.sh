# Sourced by the scripts that compile CSIMD outside SwiftPM: where Debian's libomp-dev (LLVM 14)
# keeps omp.h and libomp, as Package.swift names them (which can't source this file).
OMP_INCLUDE=/usr/lib/llvm-14/lib/clang/14.0.6/include
OMP_LIB=/usr/lib/llvm-14/lib
# clang flags that borrow them: include path, library path and rpath.
OMP_CLANG_FLAGS=(-I"$OMP_INCLUDE" -L"$OMP_LIB" -Wl,-rpath,"$OMP_LIB")
# omp_cc_flags CC: sets OMP_CC_FLAGS to what compiler CC needs next to -fopenmp: the flags above for
# clang (which doesn't find Debian's libomp by itself), nothing for gcc (its own libgomp).
omp_cc_flags() {
    OMP_CC_FLAGS=()
    if "$1" --version 2>/dev/null | grep -q clang; then OMP_CC_FLAGS=("${OMP_CLANG_FLAGS[@]}"); fi
}
