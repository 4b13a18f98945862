// 256-bit x86-64 kernels: "avx2" (AVX2 + FMA + F16C) and "avx2-vnni" (plus AVX-VNNI).
// Each function is compiled for its ISA with a target attribute (no global -m flags), so the
// binary runs on any x86-64; dispatch.c only selects these after checking CPUID and XCR0.
#include "csimd_kernels.h"
#include "csimd_target.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX2)
#define KSUFFIX _avx2
#define KVNNI 0
#include "kernels_avx2_body.h"
#undef KSUFFIX
#undef KVNNI
CSIMD_TARGET_END

CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX2_VNNI)
#define KSUFFIX _avx2vnni
#define KVNNI 1
#include "kernels_avx2_body.h"
#undef KSUFFIX
#undef KVNNI
CSIMD_TARGET_END

const csimd_kernel_table csimd_kernels_avx2 = {
    .name = "avx2",
    .ops = &csimd_ops_avx2,
    .q8a_quantize = q8a_quantize_avx2,
    .dot_q8 = dot_q8_avx2,
    .dot_q4 = dot_q4_avx2,
    .dot_f32 = dot_f32_avx2,
    .dot_f16 = dot_f16_avx2,
    .dot_bf16 = dot_bf16_avx2,
    .tile_q8 = tile_q8_avx2,
    .tile_q4 = tile_q4_avx2,
    .tile_q4r16 = csimd_tile_q4r16_avx2,
    .tile_q4nr16 = csimd_tile_q4nr16_avx2,
    .tile_q3nr16 = csimd_tile_q3nr16_avx2,
    .tile_q8r16 = csimd_tile_q8r16_avx2,
    .lora_down_q8 = csimd_lora_down_q8_avx2,
    .lora_up_f32 = csimd_lora_up_f32_avx2,
    .lora_up_f16 = csimd_lora_up_f16_avx2,
    .lora_up_q8 = csimd_lora_up_q8_avx2,
};

const csimd_kernel_table csimd_kernels_avx2_vnni = {
    .name = "avx2-vnni",
    .ops = &csimd_ops_avx2,
    .q8a_quantize = q8a_quantize_avx2vnni,
    .dot_q8 = dot_q8_avx2vnni,
    .dot_q4 = dot_q4_avx2vnni,
    .dot_f32 = dot_f32_avx2vnni,
    .dot_f16 = dot_f16_avx2vnni,
    .dot_bf16 = dot_bf16_avx2vnni,
    .tile_q8 = tile_q8_avx2vnni,
    .tile_q4 = tile_q4_avx2vnni,
    .tile_q4r16 = csimd_tile_q4r16_avx2vnni,
    .tile_q4nr16 = csimd_tile_q4nr16_avx2vnni,
    .tile_q3nr16 = csimd_tile_q3nr16_avx2vnni,
    .tile_q8r16 = csimd_tile_q8r16_avx2vnni,
    .lora_down_q8 = csimd_lora_down_q8_avx2,  // f32 arithmetic: VNNI adds nothing
    .lora_up_f32 = csimd_lora_up_f32_avx2,
    .lora_up_f16 = csimd_lora_up_f16_avx2,
    .lora_up_q8 = csimd_lora_up_q8_avx2,
};
#endif
