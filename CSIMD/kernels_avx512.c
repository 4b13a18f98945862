// 512-bit x86-64 kernels: "avx512-vnni" (AVX-512 F/BW/VL/DQ + VNNI, with F16C/FMA) and "avx512-vbmi" (plus VBMI).
// Compiled per function with a target attribute; dispatch.c selects them only after CPUID + XCR0 checks.
//
// Q dots process two blocks per zmm register (lanes 0-7 block b, lanes 8-15 block b + 1) with
// vpdpbusd and the offset trick: weights are made unsigned (Q4 nibble = w + 8, Q8 byte ^ 0x80 = w + 128)
// and each accumulator starts at -K * (lane sums of the activations), so every int32 lane is an exact
// partial dot. Only the f32 combination of the per-block scales differs from the reference (bound in
// csimd_kernels.h). An odd last block runs with the upper half zeroed.
#include "csimd_kernels.h"
#include "csimd_target.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX512_VNNI)

// ---- Activations f32 -> Q8A (bit-exact with csimd_q8a_quantize_ref) ----
static void q8a_quantize_avx512(const float *x, int64_t n, csimd_block_q8a *out) {
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    for (int64_t b = 0; b < n / CSIMD_BLOCK_SIZE; b++) {
        const float *xb = x + b * CSIMD_BLOCK_SIZE;
        const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float d = amax / 127.0f;
        const float id = d > 0.0f ? 1.0f / d : 0.0f;
        const __m512 vid = _mm512_set1_ps(id);
        // Rounds with MXCSR (nearest-even by default), like lrintf in the reference.
        const __m512i i0 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v0, vid)), lo), hi);
        const __m512i i1 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v1, vid)), lo), hi);
        _mm_storeu_si128((__m128i *)out[b].qs, _mm512_cvtepi32_epi8(i0));
        _mm_storeu_si128((__m128i *)(out[b].qs + 16), _mm512_cvtepi32_epi8(i1));
        out[b].d = d;
        out[b].sum = (int16_t)_mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
        out[b].reserved = 0;
    }
}

// ---- Block-pair loaders ----
// Q4: blocks b, b+1 -> 64 unsigned nibbles [lo_b | hi_b | lo_b1 | hi_b1]. `two` = 0 zeroes block b+1.
static inline __m512i q4_pair_load(const csimd_block_q4 *wb, int two) {
    // [q0, q0, q1, q1] (two broadcasts from memory), then shift the 2nd and 4th copies by 4 bits.
    const __m128i q0 = _mm_loadu_si128((const __m128i *)wb[0].qs);
    __m512i dup = _mm512_broadcast_i32x4(q0);
    dup = two ? _mm512_mask_broadcast_i32x4(dup, 0xFF00, _mm_loadu_si128((const __m128i *)wb[1].qs))
              : _mm512_maskz_mov_epi32(0x00FF, dup);
    const __m512i sh = _mm512_srlv_epi16(dup, _mm512_setr_epi64(0, 0, 0x0004000400040004LL, 0x0004000400040004LL, 0, 0,
                                                                0x0004000400040004LL, 0x0004000400040004LL));
    return _mm512_and_si512(sh, _mm512_set1_epi8(0x0F));
}

static inline __m512i q8_pair_load(const csimd_block_q8 *wb, int two) {
    const __m256i q0 = _mm256_loadu_si256((const __m256i *)wb[0].qs);
    const __m256i q1 = two ? _mm256_loadu_si256((const __m256i *)wb[1].qs) : _mm256_set1_epi8((char)0x80);
    // ^ 0x80 turns s8 w into u8 w + 128 (a zeroed half stays 0 after the xor).
    return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1), _mm512_set1_epi8((char)0x80));
}

// Weight scales of blocks b, b+1 broadcast over their 8 lanes each.
static inline __m512 dw_pair(uint16_t d0, uint16_t d1) {
    const __m256i h = _mm256_mask_set1_epi16(_mm256_set1_epi16((short)d0), 0xFF00, (short)d1);
    return _mm512_cvtph_ps(h);
}

static inline __m512i act_pair_load(const csimd_block_q8a *ab, int two) {
    const __m256i a0 = _mm256_loadu_si256((const __m256i *)ab[0].qs);
    const __m256i a1 = two ? _mm256_loadu_si256((const __m256i *)ab[1].qs) : _mm256_setzero_si256();
    return _mm512_inserti64x4(_mm512_castsi256_si512(a0), a1, 1);
}

static inline __m512 da_pair(const csimd_block_q8a *ab, int two) {
    const __m512 d0 = _mm512_set1_ps(ab[0].d);
    return two ? _mm512_mask_broadcastss_ps(d0, 0xFF00, _mm_load_ss(&ab[1].d)) : _mm512_maskz_mov_ps(0x00FF, d0);
}

// -K * lane sums of the activation bytes.
static inline __m512i act_corr(__m512i a, char k) {
    return _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(k), a));
}

static inline float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

// R weight rows x T activation rows, compile-time R, T after inlining (accumulators in registers;
// each weight block pair is loaded and unpacked once per tile).
#define TILE_BODY(BLOCK_T, LOAD, K)                                                                      \
    __m512 acc[CSIMD_TILE_R][CSIMD_TILE_T];                                                              \
    for (int r = 0; r < R; r++)                                                                          \
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();                                     \
    for (int64_t b = 0; b < nb; b += 2) {                                                                \
        const int two = b + 1 < nb;                                                                      \
        if (two) { STEP(1) } else { STEP(0) }                                                            \
    }                                                                                                    \
    for (int r = 0; r < R; r++)                                                                          \
        for (int t = 0; t < T; t++) y[t * ys + r] = hsum512(acc[r][t]);

#define STEP_BODY(BLOCK_T, LOAD, K, two)                                                                 \
    {                                                                                                    \
        __m512i wv[CSIMD_TILE_R];                                                                        \
        __m512 dw[CSIMD_TILE_R];                                                                         \
        for (int r = 0; r < R; r++) {                                                                    \
            const BLOCK_T *wb = (const BLOCK_T *)((const char *)w + r * ws) + b;                         \
            wv[r] = LOAD(wb, two);                                                                       \
            dw[r] = dw_pair(wb[0].d, two ? wb[1].d : 0);                                                 \
        }                                                                                                \
        for (int t = 0; t < T; t++) {                                                                    \
            const csimd_block_q8a *ab = a + t * as + b;                                                  \
            const __m512i av = act_pair_load(ab, two);                                                   \
            const __m512i c = act_corr(av, K);                                                           \
            const __m512 da = da_pair(ab, two);                                                          \
            for (int r = 0; r < R; r++) {                                                                \
                const __m512i s = _mm512_dpbusd_epi32(c, wv[r], av);                                     \
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw[r], da), acc[r][t]); \
            }                                                                                            \
        }                                                                                                \
    }

static inline __attribute__((always_inline)) void tile_q4_rt(const void *w, int64_t ws, const csimd_block_q8a *a,
                                                             int64_t as, int64_t nb, float *y, int64_t ys,
                                                             const int R, const int T) {
#define STEP(two) STEP_BODY(csimd_block_q4, q4_pair_load, 8, two)
    TILE_BODY(csimd_block_q4, q4_pair_load, 8)
#undef STEP
}

static inline __attribute__((always_inline)) void tile_q8_rt(const void *w, int64_t ws, const csimd_block_q8a *a,
                                                             int64_t as, int64_t nb, float *y, int64_t ys,
                                                             const int R, const int T) {
#define STEP(two) STEP_BODY(csimd_block_q8, q8_pair_load, (char)0x80, two)
    TILE_BODY(csimd_block_q8, q8_pair_load, (char)0x80)
#undef STEP
}
#undef TILE_BODY
#undef STEP_BODY

#define KTILE_DISPATCH(kind)                                                                               \
    static void tile_##kind##_avx512(const void *w, int64_t ws, int nr, const csimd_block_q8a *a,          \
                                     int64_t as, int nt, int64_t nb, float *y, int64_t ys) {               \
        if (nr == CSIMD_TILE_R) {                                                                          \
            switch (nt) {                                                                                  \
            case 4: tile_##kind##_rt(w, ws, a, as, nb, y, ys, 4, 4); return;                               \
            case 3: tile_##kind##_rt(w, ws, a, as, nb, y, ys, 4, 3); return;                               \
            case 2: tile_##kind##_rt(w, ws, a, as, nb, y, ys, 4, 2); return;                               \
            default: tile_##kind##_rt(w, ws, a, as, nb, y, ys, 4, 1); return;                              \
            }                                                                                              \
        }                                                                                                  \
        for (int r = 0; r < nr; r++) {                                                                     \
            const void *wr = (const char *)w + r * ws;                                                     \
            int t = 0;                                                                                     \
            for (; t + 4 <= nt; t += 4) tile_##kind##_rt(wr, ws, a + t * as, as, nb, y + t * ys + r, ys, 1, 4); \
            for (; t < nt; t++) tile_##kind##_rt(wr, ws, a + t * as, as, nb, y + t * ys + r, ys, 1, 1);       \
        }                                                                                                  \
    }
KTILE_DISPATCH(q4)
KTILE_DISPATCH(q8)
#undef KTILE_DISPATCH

static float dot_q4_avx512(const csimd_block_q4 *w, const csimd_block_q8a *a, int64_t nb) {
    float y;
    tile_q4_rt(w, 0, a, 0, nb, &y, 1, 1, 1);
    return y;
}

static float dot_q8_avx512(const csimd_block_q8 *w, const csimd_block_q8a *a, int64_t nb) {
    float y;
    tile_q8_rt(w, 0, a, 0, nb, &y, 1, 1, 1);
    return y;
}

// ---- F32 / F16 / BF16 rows x f32 vector (any n; masked tail) ----
static inline __m512 ld_f32(const float *p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
static inline __m512 ld_f16(const uint16_t *p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
static inline __m512 ld_bf16(const uint16_t *p, __mmask16 m) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

#define KDOT(name, ELEM_T, LD)                                                                      \
    static float name(const ELEM_T *w, const float *x, int64_t n) {                                 \
        const __mmask16 all = 0xFFFF;                                                               \
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();                                  \
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();                                  \
        int64_t i = 0;                                                                              \
        for (; i + 64 <= n; i += 64) {                                                              \
            a0 = _mm512_fmadd_ps(LD(w + i, all), _mm512_loadu_ps(x + i), a0);                       \
            a1 = _mm512_fmadd_ps(LD(w + i + 16, all), _mm512_loadu_ps(x + i + 16), a1);             \
            a2 = _mm512_fmadd_ps(LD(w + i + 32, all), _mm512_loadu_ps(x + i + 32), a2);             \
            a3 = _mm512_fmadd_ps(LD(w + i + 48, all), _mm512_loadu_ps(x + i + 48), a3);             \
        }                                                                                           \
        for (; i < n; i += 16) {                                                                    \
            const __mmask16 m = n - i >= 16 ? all : (__mmask16)((1u << (n - i)) - 1u);              \
            a0 = _mm512_fmadd_ps(LD(w + i, m), _mm512_maskz_loadu_ps(m, x + i), a0);                \
        }                                                                                           \
        return hsum512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));                \
    }
KDOT(dot_f32_avx512, float, ld_f32)
KDOT(dot_f16_avx512, uint16_t, ld_f16)
KDOT(dot_bf16_avx512, uint16_t, ld_bf16)
#undef KDOT

CSIMD_TARGET_END

// The two 512-bit tables differ only in how the grid types are decoded.
#define AVX512_KERNELS                                                      \
    .ops = &csimd_ops_avx512, .q8a_quantize = q8a_quantize_avx512,          \
    .dot_q8 = dot_q8_avx512, .dot_q4 = dot_q4_avx512,                       \
    .dot_f32 = dot_f32_avx512, .dot_f16 = dot_f16_avx512,                   \
    .dot_bf16 = dot_bf16_avx512, .tile_q8 = tile_q8_avx512,                 \
    .tile_q4 = tile_q4_avx512, .tile_q4r16 = csimd_tile_q4r16_avx512,       \
    .tile_q8r16 = csimd_tile_q8r16_avx512, .lora_down_q8 = csimd_lora_down_q8_avx512, \
    .lora_up_f32 = csimd_lora_up_f32_avx512, .lora_up_f16 = csimd_lora_up_f16_avx512, .lora_up_q8 = csimd_lora_up_q8_avx512, \
    .lora_down_f32_tokens = csimd_lora_down_f32_tokens_avx512,                         \
    .lora_down_f16_tokens = csimd_lora_down_f16_tokens_avx512,                         \
    .lora_down_q8_tokens = csimd_lora_down_q8_tokens_avx512,                           \
    .lora_up_f32_tokens = csimd_lora_up_f32_tokens_avx512,                             \
    .lora_up_f16_tokens = csimd_lora_up_f16_tokens_avx512,                             \
    .lora_up_q8_tokens = csimd_lora_up_q8_tokens_avx512

const csimd_kernel_table csimd_kernels_avx512_vnni = {
    .name = "avx512-vnni",
    AVX512_KERNELS,
    .tile_q4nr16 = csimd_tile_q4nr16_avx512,
    .tile_q3nr16 = csimd_tile_q3nr16_avx512,
};

/// "avx512-vbmi": the same kernels, grid types decoded by vpermb (AVX-512 VBMI: Ice Lake, Zen 4 and later).
const csimd_kernel_table csimd_kernels_avx512_vbmi = {
    .name = "avx512-vbmi",
    AVX512_KERNELS,
    .tile_q4nr16 = csimd_tile_q4nr16_vbmi_avx512,
    .tile_q3nr16 = csimd_tile_q3nr16_vbmi_avx512,
};
#undef AVX512_KERNELS
#endif
