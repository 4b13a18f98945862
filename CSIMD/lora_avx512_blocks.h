// q8 block helpers shared by the AVX-512 LoRA kernels (lora_x86.c, lora_tokens_avx512.c). Include it
// inside a CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX512) region, after <immintrin.h>.
#ifndef LORA_AVX512_BLOCKS_H
#define LORA_AVX512_BLOCKS_H

/// A q8 block's scale in every lane. Not _cvtsh_ss: clang moves its one half in with vpinsrw, merging
/// into whatever register it picks, and in down_q8 that was the accumulator, so each block's scale
/// waited for the previous block's sum (14 cycles a block instead of about 4).
static inline __m512 f16_splat512(uint16_t h) { return _mm512_cvtph_ps(_mm256_set1_epi16((short)h)); }

/// 16 signed bytes at p widened to f32.
static inline __m512 q8x16(const int8_t *p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
}

#endif
