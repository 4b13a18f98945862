// Private to CSIMD: vectorizable exp / GELU helpers shared by the per-ISA ops files (ops_portable.c, ops_avx2.c, ops_avx512.c). Which
// path runs is the kernel table's business (its `ops`, dispatch.c), never decided per call here.
//
// exp: Cody-Waite range reduction x = n ln2 + r (|r| <= ln2 / 2, n rounded to nearest with the
// 1.5 * 2^23 trick), Cephes' degree-5 polynomial for e^r, 2^n built in the exponent bits.
// About 1 ulp for x in [-87, 88]; x < -87 gives +0 (true value < 1.7e-38), x > 88 gives +inf, NaN stays NaN.
//
// GELU: 0.5 x (1 + erf(x / sqrt 2)) with Abramowitz-Stegun 7.1.26 for erf (|error| <= 1.5e-7):
// erfc(|z|) = t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e^(-z^2), t = 1 / (1 + p |z|);
// 1 + erf(z) = erfc(|z|) for z < 0, 2 - erfc(|z|) otherwise (no cancellation on the negative side).
// x is clamped to >= -20 before the final product so GELU(-inf) = -0 instead of -inf * 0 = NaN.
#ifndef CSIMD_OPS_SIMD_H
#define CSIMD_OPS_SIMD_H

#include "csimd_kernels.h"
#include "csimd_target.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define CSIMD_EXP_LO (-87.0f)
#define CSIMD_EXP_HI 88.0f
#define CSIMD_LOG2E 1.44269504088896341f
#define CSIMD_LN2_HI 0.693359375f        // few mantissa bits: n * LN2_HI is exact
#define CSIMD_LN2_LO (-2.12194440e-4f)
#define CSIMD_ROUND_MAGIC 12582912.0f    // 1.5 * 2^23
#define CSIMD_EXP_P0 1.9875691500e-4f
#define CSIMD_EXP_P1 1.3981999507e-3f
#define CSIMD_EXP_P2 8.3334519073e-3f
#define CSIMD_EXP_P3 4.1665795894e-2f
#define CSIMD_EXP_P4 1.6666665459e-1f
#define CSIMD_EXP_P5 5.0000001201e-1f

#define CSIMD_ERF_P 0.3275911f
#define CSIMD_ERF_A1 0.254829592f
#define CSIMD_ERF_A2 (-0.284496736f)
#define CSIMD_ERF_A3 1.421413741f
#define CSIMD_ERF_A4 (-1.453152027f)
#define CSIMD_ERF_A5 1.061405429f
#define CSIMD_SQRT1_2 0.70710678118654752f
#define CSIMD_GELU_XMIN (-20.0f)

// ---- Portable (branch-free, the compiler vectorizes loops calling these) ----

static inline float csimd_expf_portable(float x) {
    float xc = x < CSIMD_EXP_LO ? CSIMD_EXP_LO : x;  // NaN compares false: stays NaN
    xc = xc > CSIMD_EXP_HI ? CSIMD_EXP_HI : xc;
    const float n = (xc * CSIMD_LOG2E + CSIMD_ROUND_MAGIC) - CSIMD_ROUND_MAGIC;
    float r = xc - n * CSIMD_LN2_HI;
    r = r - n * CSIMD_LN2_LO;
    float p = CSIMD_EXP_P0;
    p = p * r + CSIMD_EXP_P1;
    p = p * r + CSIMD_EXP_P2;
    p = p * r + CSIMD_EXP_P3;
    p = p * r + CSIMD_EXP_P4;
    p = p * r + CSIMD_EXP_P5;
    p = p * (r * r) + r + 1.0f;
    // Converting NaN to int is undefined behaviour: use 0 for the exponent then (p is NaN anyway).
    const float n_finite = n == n ? n : 0.0f;
    const int32_t bits = ((int32_t)n_finite + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    float y = p * scale;
    y = x < CSIMD_EXP_LO ? 0.0f : y;
    y = x > CSIMD_EXP_HI ? __builtin_inff() : y;
    return y;
}

static inline float csimd_gelu_portable(float x) {
    const float az = __builtin_fabsf(x * CSIMD_SQRT1_2);
    const float t = 1.0f / (1.0f + CSIMD_ERF_P * az);
    float poly = CSIMD_ERF_A5;
    poly = poly * t + CSIMD_ERF_A4;
    poly = poly * t + CSIMD_ERF_A3;
    poly = poly * t + CSIMD_ERF_A2;
    poly = poly * t + CSIMD_ERF_A1;
    const float q = poly * t * csimd_expf_portable(-(az * az));  // erfc(|z|)
    const float f = x < 0.0f ? q : 2.0f - q;
    const float xc = x < CSIMD_GELU_XMIN ? CSIMD_GELU_XMIN : x;
    return 0.5f * xc * f;
}

#if defined(__x86_64__)
// ---- AVX2 + FMA (8 lanes); same operations as the portable code, with FMA ----
#define CSIMD_T_AVX2 __attribute__((target(CSIMD_ISA_AVX2), always_inline))

static inline CSIMD_T_AVX2 __m256 csimd_exp256(__m256 x) {
    const __m256 lo = _mm256_set1_ps(CSIMD_EXP_LO), hi = _mm256_set1_ps(CSIMD_EXP_HI);
    // max/min return the second operand when one is NaN: keep x second so NaN propagates.
    __m256 xc = _mm256_max_ps(lo, x);
    xc = _mm256_min_ps(hi, xc);
    const __m256 magic = _mm256_set1_ps(CSIMD_ROUND_MAGIC);
    const __m256 n = _mm256_sub_ps(_mm256_fmadd_ps(xc, _mm256_set1_ps(CSIMD_LOG2E), magic), magic);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(CSIMD_LN2_HI), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(CSIMD_LN2_LO), r);
    __m256 p = _mm256_set1_ps(CSIMD_EXP_P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CSIMD_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CSIMD_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CSIMD_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CSIMD_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CSIMD_EXP_P5));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    y = _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), y);
    y = _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
    return y;
}

static inline CSIMD_T_AVX2 __m256 csimd_gelu256(__m256 x) {
    const __m256 az = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_mul_ps(x, _mm256_set1_ps(CSIMD_SQRT1_2)));
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(az, _mm256_set1_ps(CSIMD_ERF_P), one));
    __m256 poly = _mm256_set1_ps(CSIMD_ERF_A5);
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(CSIMD_ERF_A4));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(CSIMD_ERF_A3));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(CSIMD_ERF_A2));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(CSIMD_ERF_A1));
    const __m256 e = csimd_exp256(_mm256_xor_ps(_mm256_mul_ps(az, az), _mm256_set1_ps(-0.0f)));
    const __m256 q = _mm256_mul_ps(_mm256_mul_ps(poly, t), e);
    const __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 f = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), q), q, neg);
    const __m256 xc = _mm256_max_ps(_mm256_set1_ps(CSIMD_GELU_XMIN), x);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), xc), f);
}

// ---- AVX-512 F (16 lanes) ----
#define CSIMD_T_AVX512 __attribute__((target(CSIMD_ISA_AVX512), always_inline))

static inline CSIMD_T_AVX512 __m512 csimd_exp512(__m512 x) {
    const __m512 lo = _mm512_set1_ps(CSIMD_EXP_LO), hi = _mm512_set1_ps(CSIMD_EXP_HI);
    __m512 xc = _mm512_max_ps(lo, x);
    xc = _mm512_min_ps(hi, xc);
    const __m512 magic = _mm512_set1_ps(CSIMD_ROUND_MAGIC);
    const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(xc, _mm512_set1_ps(CSIMD_LOG2E), magic), magic);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(CSIMD_LN2_HI), xc);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(CSIMD_LN2_LO), r);
    __m512 p = _mm512_set1_ps(CSIMD_EXP_P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CSIMD_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CSIMD_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CSIMD_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CSIMD_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CSIMD_EXP_P5));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
    __m512 y = _mm512_mul_ps(p, _mm512_castsi512_ps(e));
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ), _mm512_setzero_ps());
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ), _mm512_set1_ps(__builtin_inff()));
    return y;
}

static inline CSIMD_T_AVX512 __m512 csimd_gelu512(__m512 x) {
    const __m512 az = _mm512_abs_ps(_mm512_mul_ps(x, _mm512_set1_ps(CSIMD_SQRT1_2)));
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(az, _mm512_set1_ps(CSIMD_ERF_P), one));
    __m512 poly = _mm512_set1_ps(CSIMD_ERF_A5);
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(CSIMD_ERF_A4));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(CSIMD_ERF_A3));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(CSIMD_ERF_A2));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(CSIMD_ERF_A1));
    const __m512 e = csimd_exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(az, az)));
    const __m512 q = _mm512_mul_ps(_mm512_mul_ps(poly, t), e);
    const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 f = _mm512_mask_mov_ps(_mm512_sub_ps(_mm512_set1_ps(2.0f), q), neg, q);
    const __m512 xc = _mm512_max_ps(_mm512_set1_ps(CSIMD_GELU_XMIN), x);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), xc), f);
}
#endif

#endif
