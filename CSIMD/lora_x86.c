// LoRA kernels for x86-64 (contracts and twins: csimd_kernels.h, lora_ref.c). The "avx2" and
// "avx2-vnni" tables share the AVX2 + FMA + F16C versions (no integer dots here: A and B meet f32
// activations, so the q8 values are widened to f32); the AVX-512 tables share the 512-bit ones.
// Up projections vectorize along the outputs with the rank loop inside, so each output's sum runs over
// k in the reference's order and differs from it only by FMA rounding.
#include "csimd_kernels.h"
#include "csimd_target.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX2)

/// A q8 block's scale in every lane: F16C on a broadcast (csimd_f16_to_f32 is an out-of-line call, a
/// software conversion on compilers without F16C in their baseline, and it showed in decode profiles;
/// not _cvtsh_ss: see lora_avx512_blocks.h).
static inline __m256 f16_splat256(uint16_t h) { return _mm256_cvtph_ps(_mm_set1_epi16((short)h)); }

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// 8 signed bytes at p widened to f32.
static inline __m256 q8x8(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

float csimd_lora_down_q8_avx2(const csimd_block_q8 *a, const float *x, int64_t nb) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * CSIMD_BLOCK_SIZE;
        _mm_prefetch((const char *)(a + b) + CSIMD_LORA_PREFETCH, _MM_HINT_T0);
        __m256 s = _mm256_mul_ps(q8x8(a[b].qs), _mm256_loadu_ps(xb));
        s = _mm256_fmadd_ps(q8x8(a[b].qs + 8), _mm256_loadu_ps(xb + 8), s);
        s = _mm256_fmadd_ps(q8x8(a[b].qs + 16), _mm256_loadu_ps(xb + 16), s);
        s = _mm256_fmadd_ps(q8x8(a[b].qs + 24), _mm256_loadu_ps(xb + 24), s);
        acc = _mm256_fmadd_ps(f16_splat256(a[b].d), s, acc);
    }
    return hsum256(acc);
}

/// y[0..32) += s * (a0 | a1 | a2 | a3): the end of every 32-output step of an up projection.
static inline void add32_avx2(float *y, __m256 vs, __m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    _mm256_storeu_ps(y, _mm256_fmadd_ps(vs, a0, _mm256_loadu_ps(y)));
    _mm256_storeu_ps(y + 8, _mm256_fmadd_ps(vs, a1, _mm256_loadu_ps(y + 8)));
    _mm256_storeu_ps(y + 16, _mm256_fmadd_ps(vs, a2, _mm256_loadu_ps(y + 16)));
    _mm256_storeu_ps(y + 24, _mm256_fmadd_ps(vs, a3, _mm256_loadu_ps(y + 24)));
}

/// bt[i..i+8) as f32, from f16 (F16C) or f32 elements.
static inline __m256 bt8(const void *bt, int f16, int64_t i) {
    return f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)bt + i))) : _mm256_loadu_ps((const float *)bt + i);
}

/// The f16 and f32 up projections differ only in how bt's values are read: one body, inlined into
/// each with `f16` a constant, so each keeps its own branch-free loop.
static inline __attribute__((always_inline)) void up_avx2(const void *bt, int f16, int64_t rank, int64_t stride,
                                                          const float *t, float s, float *y, int64_t n) {
    const __m256 vs = _mm256_set1_ps(s);
    int64_t o = 0;
    for (; o + 32 <= n; o += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (int64_t k = 0; k < rank; k++) {
            const int64_t row = k * stride + o;
            const __m256 tk = _mm256_set1_ps(t[k]);
            a0 = _mm256_fmadd_ps(tk, bt8(bt, f16, row), a0);
            a1 = _mm256_fmadd_ps(tk, bt8(bt, f16, row + 8), a1);
            a2 = _mm256_fmadd_ps(tk, bt8(bt, f16, row + 16), a2);
            a3 = _mm256_fmadd_ps(tk, bt8(bt, f16, row + 24), a3);
        }
        add32_avx2(y + o, vs, a0, a1, a2, a3);
    }
    for (; o + 8 <= n; o += 8) {
        __m256 a0 = _mm256_setzero_ps();
        for (int64_t k = 0; k < rank; k++) a0 = _mm256_fmadd_ps(_mm256_set1_ps(t[k]), bt8(bt, f16, k * stride + o), a0);
        _mm256_storeu_ps(y + o, _mm256_fmadd_ps(vs, a0, _mm256_loadu_ps(y + o)));
    }
    if (o < n) {  // < 8 outputs
        if (f16) csimd_lora_up_f16_ref((const uint16_t *)bt + o, rank, stride, t, s, y + o, n - o);
        else csimd_lora_up_f32_ref((const float *)bt + o, rank, stride, t, s, y + o, n - o);
    }
}

void csimd_lora_up_f16_avx2(const uint16_t *bt, int64_t rank, int64_t stride, const float *t, float s, float *y,
                            int64_t n) {
    up_avx2(bt, 1, rank, stride, t, s, y, n);
}

void csimd_lora_up_f32_avx2(const float *bt, int64_t rank, int64_t stride, const float *t, float s, float *y,
                            int64_t n) {
    up_avx2(bt, 0, rank, stride, t, s, y, n);
}

void csimd_lora_up_q8_avx2(const csimd_block_q8 *bt, int64_t rank, int64_t stride, const float *t, float s, float *y,
                           int64_t nb) {
    const __m256 vs = _mm256_set1_ps(s);
    for (int64_t b = 0; b < nb; b++) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (int64_t k = 0; k < rank; k++) {
            const csimd_block_q8 *blk = bt + k * stride + b;
            const __m256 c = _mm256_mul_ps(_mm256_set1_ps(t[k]), f16_splat256(blk->d));
            a0 = _mm256_fmadd_ps(c, q8x8(blk->qs), a0);
            a1 = _mm256_fmadd_ps(c, q8x8(blk->qs + 8), a1);
            a2 = _mm256_fmadd_ps(c, q8x8(blk->qs + 16), a2);
            a3 = _mm256_fmadd_ps(c, q8x8(blk->qs + 24), a3);
        }
        add32_avx2(y + b * CSIMD_BLOCK_SIZE, vs, a0, a1, a2, a3);
    }
}

CSIMD_TARGET_END

CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX512)

#include "lora_avx512_blocks.h"

float csimd_lora_down_q8_avx512(const csimd_block_q8 *a, const float *x, int64_t nb) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * CSIMD_BLOCK_SIZE;
        _mm_prefetch((const char *)(a + b) + CSIMD_LORA_PREFETCH, _MM_HINT_T0);
        __m512 s = _mm512_mul_ps(q8x16(a[b].qs), _mm512_loadu_ps(xb));
        s = _mm512_fmadd_ps(q8x16(a[b].qs + 16), _mm512_loadu_ps(xb + 16), s);
        acc = _mm512_fmadd_ps(f16_splat512(a[b].d), s, acc);
    }
    return _mm512_reduce_add_ps(acc);
}

/// y[0..64) += s * (a0 | a1 | a2 | a3): the end of every 64-output step of an up projection.
static inline void add64_avx512(float *y, __m512 vs, __m512 a0, __m512 a1, __m512 a2, __m512 a3) {
    _mm512_storeu_ps(y, _mm512_fmadd_ps(vs, a0, _mm512_loadu_ps(y)));
    _mm512_storeu_ps(y + 16, _mm512_fmadd_ps(vs, a1, _mm512_loadu_ps(y + 16)));
    _mm512_storeu_ps(y + 32, _mm512_fmadd_ps(vs, a2, _mm512_loadu_ps(y + 32)));
    _mm512_storeu_ps(y + 48, _mm512_fmadd_ps(vs, a3, _mm512_loadu_ps(y + 48)));
}

/// bt[i..i+16) as f32, from f16 or f32 elements.
static inline __m512 bt16(const void *bt, int f16, int64_t i) {
    return f16 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)bt + i))) : _mm512_loadu_ps((const float *)bt + i);
}

/// bt16 of the lanes in `m` only, the others zero.
static inline __m512 bt16_masked(const void *bt, int f16, int64_t i, __mmask16 m) {
    return f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)bt + i)) : _mm512_maskz_loadu_ps(m, (const float *)bt + i);
}

/// As up_avx2: one body for f16 and f32 bt, a masked tail instead of the scalar twin.
static inline __attribute__((always_inline)) void up_avx512(const void *bt, int f16, int64_t rank, int64_t stride,
                                                            const float *t, float s, float *y, int64_t n) {
    const __m512 vs = _mm512_set1_ps(s);
    int64_t o = 0;
    for (; o + 64 <= n; o += 64) {
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        for (int64_t k = 0; k < rank; k++) {
            const int64_t row = k * stride + o;
            const __m512 tk = _mm512_set1_ps(t[k]);
            a0 = _mm512_fmadd_ps(tk, bt16(bt, f16, row), a0);
            a1 = _mm512_fmadd_ps(tk, bt16(bt, f16, row + 16), a1);
            a2 = _mm512_fmadd_ps(tk, bt16(bt, f16, row + 32), a2);
            a3 = _mm512_fmadd_ps(tk, bt16(bt, f16, row + 48), a3);
        }
        add64_avx512(y + o, vs, a0, a1, a2, a3);
    }
    for (; o < n; o += 16) {  // masked tail
        const __mmask16 m = n - o >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - o)) - 1u);
        __m512 a0 = _mm512_setzero_ps();
        for (int64_t k = 0; k < rank; k++) a0 = _mm512_fmadd_ps(_mm512_set1_ps(t[k]), bt16_masked(bt, f16, k * stride + o, m), a0);
        _mm512_mask_storeu_ps(y + o, m, _mm512_fmadd_ps(vs, a0, _mm512_maskz_loadu_ps(m, y + o)));
    }
}

void csimd_lora_up_f16_avx512(const uint16_t *bt, int64_t rank, int64_t stride, const float *t, float s, float *y,
                              int64_t n) {
    up_avx512(bt, 1, rank, stride, t, s, y, n);
}

void csimd_lora_up_f32_avx512(const float *bt, int64_t rank, int64_t stride, const float *t, float s, float *y,
                              int64_t n) {
    up_avx512(bt, 0, rank, stride, t, s, y, n);
}

void csimd_lora_up_q8_avx512(const csimd_block_q8 *bt, int64_t rank, int64_t stride, const float *t, float s, float *y,
                             int64_t nb) {
    const __m512 vs = _mm512_set1_ps(s);
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {  // two blocks: four independent accumulators
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        for (int64_t k = 0; k < rank; k++) {
            const csimd_block_q8 *blk = bt + k * stride + b;
            const __m512 tk = _mm512_set1_ps(t[k]);
            const __m512 c0 = _mm512_mul_ps(tk, f16_splat512(blk[0].d)), c1 = _mm512_mul_ps(tk, f16_splat512(blk[1].d));
            a0 = _mm512_fmadd_ps(c0, q8x16(blk[0].qs), a0);
            a1 = _mm512_fmadd_ps(c0, q8x16(blk[0].qs + 16), a1);
            a2 = _mm512_fmadd_ps(c1, q8x16(blk[1].qs), a2);
            a3 = _mm512_fmadd_ps(c1, q8x16(blk[1].qs + 16), a3);
        }
        add64_avx512(y + b * CSIMD_BLOCK_SIZE, vs, a0, a1, a2, a3);
    }
    for (; b < nb; b++) {
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        for (int64_t k = 0; k < rank; k++) {
            const csimd_block_q8 *blk = bt + k * stride + b;
            const __m512 c = _mm512_mul_ps(_mm512_set1_ps(t[k]), f16_splat512(blk->d));
            a0 = _mm512_fmadd_ps(c, q8x16(blk->qs), a0);
            a1 = _mm512_fmadd_ps(c, q8x16(blk->qs + 16), a1);
        }
        float *yb = y + b * CSIMD_BLOCK_SIZE;
        _mm512_storeu_ps(yb, _mm512_fmadd_ps(vs, a0, _mm512_loadu_ps(yb)));
        _mm512_storeu_ps(yb + 16, _mm512_fmadd_ps(vs, a1, _mm512_loadu_ps(yb + 16)));
    }
}

CSIMD_TARGET_END
#endif
