// Private to CSIMD: what the per-ISA attention heads share (ops_portable.c, ops_avx2.c, ops_avx512.c).
//
// One head for one query: scores = scale * q.k_p for p <= last (SIMD dots, eight positions at a time,
// reduced together), softmax with the vectorized exp of ops_simd.h, then out = (sum_p e_p v_p) / sum_p e_p
// with the output row held in registers (chunks of up to 8 vectors, two accumulator sets for even/odd p).
// Differences to csimd_attention_ref are f32 rounding only: summation order, exp (~1 ulp), 1 / sum applied last.
#ifndef CSIMD_OPS_ATTENTION_H
#define CSIMD_OPS_ATTENTION_H

#include "ops_simd.h"
#include <math.h>

/// csimd_attn_head_<isa>_f32 / _f16 / _i8: the entry points of one path's inlined head_<isa>(..., kind),
/// which the ops tables (dispatch.c) hold.
#define HEAD_VARIANT(isa, name, kind)                                                                          \
    void csimd_attn_head_##isa##_##name(const float *qh, const void *k, const void *v, const float *ks,            \
                                    const float *vs, int64_t ss, int64_t stride, int64_t hd, int64_t last,     \
                                    float scale, float *scores, float *o) {                                    \
        head_##isa(qh, k, v, ks, vs, ss, stride, hd, last, scale, scores, o, kind);                            \
    }
#define HEAD_VARIANTS(isa) HEAD_VARIANT(isa, f32, KV_F32) HEAD_VARIANT(isa, f16, KV_F16) HEAD_VARIANT(isa, i8, KV_I8)

/// A q8 cache stores one scale per (position, head): row p's scale at sc[p * ss]. Scores and softmax
/// weights are multiplied by them, so the dot and weighted-sum loops only widen int8.
static inline void scale_rows(float *x, const float *sc, int64_t ss, int64_t n) {
    for (int64_t p = 0; p < n; p++) x[p] *= sc[p * ss];
}

#define AI __attribute__((always_inline))

/// Exact f16 -> f32 widening. aarch64 converts _Float16 natively (and vectorizes it); elsewhere
/// _Float16 -> float is a library call per element, so widen with integer ops and one multiply:
/// the exponent/mantissa bits shifted into f32 position, times 2^112, rebias normals and subnormals alike.
static inline AI float f16_widen(uint16_t h) {
#if defined(__aarch64__)
    _Float16 v;
    memcpy(&v, &h, 2);
    return (float)v;
#else
    const uint32_t em = h & 0x7FFFu;
    const uint32_t shifted = em << 13;
    float f;
    memcpy(&f, &shifted, 4);
    f *= 0x1p112f;
    uint32_t r;
    memcpy(&r, &f, 4);
    r = em >= 0x7C00u ? (shifted | 0x7F800000u) : r;  // inf / NaN
    r = em > 0x7C00u ? (r | 0x00400000u) : r;          // NaN comes out quiet, as with F16C
    r |= (uint32_t)(h & 0x8000u) << 16;
    memcpy(&f, &r, 4);
    return f;
#endif
}

/// Cache element types; a q8 cache's per-(position, head) scales are applied outside the loaders.
enum { KV_F32 = 0, KV_F16 = 1, KV_I8 = 2 };

static inline AI float ld_elem(const void *base, int64_t i, int kind) {
    if (kind == KV_F16) return f16_widen(((const uint16_t *)base)[i]);
    if (kind == KV_I8) return (float)((const int8_t *)base)[i];
    return ((const float *)base)[i];
}

#if defined(__x86_64__)
// Eight 8-lane partial sums -> one vector of their eight totals.
#define HSUM8X8_BODY(a)                                                                             \
    const __m256 h01 = _mm256_hadd_ps(a[0], a[1]), h23 = _mm256_hadd_ps(a[2], a[3]);                \
    const __m256 h45 = _mm256_hadd_ps(a[4], a[5]), h67 = _mm256_hadd_ps(a[6], a[7]);                \
    const __m256 h0123 = _mm256_hadd_ps(h01, h23), h4567 = _mm256_hadd_ps(h45, h67);                \
    return _mm256_add_ps(_mm256_permute2f128_ps(h0123, h4567, 0x20), _mm256_permute2f128_ps(h0123, h4567, 0x31));
#endif

#endif
