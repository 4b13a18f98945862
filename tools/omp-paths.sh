# Sourced by the scripts that compile CSIMD outside SwiftPM: where Debian's libomp-dev (LLVM 14)
# keeps omp.h and libomp, as Package.swift names them (which can't source this file).
OMP_INCLUDE=/usr/lib/llvm-14/lib/clang/14.0.6/include
OMP_LIB=/usr/lib/llvm-14/lib
# clang flags that borrow them: include path, library path and rpath.
OMP_CLANG_FLAGS=(-I"$OMP_INCLUDE" -L"$OMP_LIB" -Wl,-rpath,"$OMP_LIB")
