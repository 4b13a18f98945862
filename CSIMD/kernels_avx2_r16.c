// 256-bit x86-64 kernels for the R16 row-interleaved layouts (csimd_blocks.h), for the "avx2" and
// "avx2-vnni" tables of kernels_avx2.c; compiled per function for their ISA, selected by dispatch.c.
#include "csimd_kernels.h"
#include "csimd_target.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX2)
#define KSUFFIX _avx2
#define KVNNI 0
#include "kernels_avx2_r16_body.h"
#undef KSUFFIX
#undef KVNNI
CSIMD_TARGET_END

CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX2_VNNI)
#define KSUFFIX _avx2vnni
#define KVNNI 1
#include "kernels_avx2_r16_body.h"
#undef KSUFFIX
#undef KVNNI
CSIMD_TARGET_END
#endif
