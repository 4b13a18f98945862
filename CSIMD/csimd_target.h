// Compiling a region of a file for one instruction set, with clang (SwiftPM) or gcc (the
// self-test, the aarch64 cross build). No global -m flags: dispatch.c picks the region at run time.
#ifndef CSIMD_TARGET_H
#define CSIMD_TARGET_H

#define CSIMD_ISA_AVX2 "avx,avx2,fma,f16c"
#define CSIMD_ISA_AVX2_VNNI "avx,avx2,fma,f16c,avxvnni"
#define CSIMD_ISA_AVX512 "avx,avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq"
#define CSIMD_ISA_AVX512_VNNI "avx,avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"
#define CSIMD_ISA_AVX512_VBMI "avx,avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi"

#define CSIMD_PRAGMA_(text) _Pragma(#text)
#define CSIMD_PRAGMA(text) CSIMD_PRAGMA_(text)
#if defined(__clang__)
/// Every function from here to CSIMD_TARGET_END is compiled for `isa` (a CSIMD_ISA_* string).
#define CSIMD_TARGET_BEGIN(isa) CSIMD_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define CSIMD_TARGET_END _Pragma("clang attribute pop")
#else
#define CSIMD_TARGET_BEGIN(isa) _Pragma("GCC push_options") CSIMD_PRAGMA(GCC target(isa))
#define CSIMD_TARGET_END _Pragma("GCC pop_options")
#endif

/// One aarch64 function compiled with the dot-product instructions (clang and gcc spell it differently).
#if defined(__clang__)
#define CSIMD_DOTPROD_TARGET __attribute__((target("dotprod")))
#else
#define CSIMD_DOTPROD_TARGET __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

#endif
