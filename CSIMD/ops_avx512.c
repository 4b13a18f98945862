// The AVX-512 ops (csimd_ops_avx512 in dispatch.c): attention head over 16 lanes with masked loads and
// stores for the head_dim % 16 tail, GELU and the f32 -> f16 row conversion.
#include "ops_attention.h"
#include "ops_covariance.h"

#if defined(__x86_64__)
CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX512)
static inline AI __m512 ld512m(const void *base, int64_t i, __mmask16 m, int kind) {
    if (kind == KV_F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)base + i));
    if (kind == KV_I8) return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, (const int8_t *)base + i)));
    return _mm512_maskz_loadu_ps(m, (const float *)base + i);
}
static inline AI __m512 ld512(const void *base, int64_t i, int kind) {
    if (kind == KV_F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)base + i)));
    if (kind == KV_I8) return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)((const int8_t *)base + i))));
    return _mm512_loadu_ps((const float *)base + i);
}
static inline AI __m256 hsum8x8_avx512(const __m256 *a) { HSUM8X8_BODY(a) }
static inline AI __m256 fold512(__m512 v) { return _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)); }

static inline AI void scores_avx512(const float *qh, const void *k, int64_t stride, int64_t hd, int64_t last,
                                    float scale, float *scores, int kind) {
    const int64_t nfull = hd / 16, dt = nfull * 16;
    const __mmask16 mt = (__mmask16)((1u << (hd - dt)) - 1u);
    int64_t p = 0;
    for (; p + 8 <= last + 1; p += 8) {
        __m512 a[8];
        for (int r = 0; r < 8; r++) a[r] = _mm512_setzero_ps();
        for (int64_t j = 0; j < nfull; j++) {
            const __m512 qv = _mm512_loadu_ps(qh + j * 16);
            for (int r = 0; r < 8; r++) a[r] = _mm512_fmadd_ps(qv, ld512(k, (p + r) * stride + j * 16, kind), a[r]);
        }
        if (mt) {
            const __m512 qv = _mm512_maskz_loadu_ps(mt, qh + dt);
            for (int r = 0; r < 8; r++) a[r] = _mm512_fmadd_ps(qv, ld512m(k, (p + r) * stride + dt, mt, kind), a[r]);
        }
        __m256 b[8];
        for (int r = 0; r < 8; r++) b[r] = fold512(a[r]);
        _mm256_storeu_ps(scores + p, _mm256_mul_ps(hsum8x8_avx512(b), _mm256_set1_ps(scale)));
    }
    for (; p <= last; p++) {
        __m512 acc = _mm512_setzero_ps();
        for (int64_t j = 0; j < nfull; j++)
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(qh + j * 16), ld512(k, p * stride + j * 16, kind), acc);
        if (mt) acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mt, qh + dt), ld512m(k, p * stride + dt, mt, kind), acc);
        scores[p] = _mm512_reduce_add_ps(acc) * scale;
    }
}

static inline AI float softmax_avx512(float *s, int64_t n) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 mv = ninf;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(s + i));
    const __mmask16 mt = (__mmask16)((1u << (n - i)) - 1u);
    if (mt) mv = _mm512_max_ps(mv, _mm512_mask_loadu_ps(ninf, mt, s + i));
    const __m512 mb = _mm512_set1_ps(_mm512_reduce_max_ps(mv));
    __m512 sum = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        const __m512 e = csimd_exp512(_mm512_sub_ps(_mm512_loadu_ps(s + i), mb));
        _mm512_storeu_ps(s + i, e);
        sum = _mm512_add_ps(sum, e);
    }
    if (mt) {
        const __m512 e = csimd_exp512(_mm512_sub_ps(_mm512_mask_loadu_ps(mb, mt, s + i), mb));
        _mm512_mask_storeu_ps(s + i, mt, e);
        sum = _mm512_mask_add_ps(sum, mt, sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

/// Vectors j < NV of the output starting at float d0; the last vector of the head may be partial (mask).
static inline AI void vsum_avx512(const float *w, const void *v, int64_t stride, int64_t n, int64_t d0, const int NV,
                                  int64_t hd, float inv, float *o, int kind, const int masked) {
    __m512 a[8], b[8];
    __mmask16 m[8];
    for (int j = 0; j < NV; j++) {
        a[j] = b[j] = _mm512_setzero_ps();
        const int64_t left = hd - (d0 + 16 * j);
        m[j] = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
    }
// Unmasked loads let vcvtph2ps take its memory operand; masks only when head_dim % 16 != 0.
#define LDV(i, mask) (masked ? ld512m(v, (i), (mask), kind) : ld512(v, (i), kind))
    int64_t p = 0;
    for (; p + 2 <= n; p += 2) {
        const __m512 w0 = _mm512_set1_ps(w[p]), w1 = _mm512_set1_ps(w[p + 1]);
        for (int j = 0; j < NV; j++) {
            a[j] = _mm512_fmadd_ps(w0, LDV(p * stride + d0 + 16 * j, m[j]), a[j]);
            b[j] = _mm512_fmadd_ps(w1, LDV((p + 1) * stride + d0 + 16 * j, m[j]), b[j]);
        }
    }
    if (p < n) {
        const __m512 w0 = _mm512_set1_ps(w[p]);
        for (int j = 0; j < NV; j++) a[j] = _mm512_fmadd_ps(w0, LDV(p * stride + d0 + 16 * j, m[j]), a[j]);
    }
#undef LDV
    const __m512 vi = _mm512_set1_ps(inv);
    for (int j = 0; j < NV; j++) _mm512_mask_storeu_ps(o + d0 + 16 * j, m[j], _mm512_mul_ps(_mm512_add_ps(a[j], b[j]), vi));
}

static inline AI void head_avx512(const float *qh, const void *k, const void *v, const float *ks, const float *vs,
                                  int64_t ss, int64_t stride, int64_t hd, int64_t last, float scale, float *scores,
                                  float *o, int kind) {
    const int64_t n = last + 1;
    scores_avx512(qh, k, stride, hd, last, scale, scores, kind);
    if (kind == KV_I8) scale_rows(scores, ks, ss, n);
    const float inv = 1.0f / softmax_avx512(scores, n);
    if (kind == KV_I8) scale_rows(scores, vs, ss, n);
    const int64_t nv = (hd + 15) / 16;
    const int64_t chunks = (nv + 7) / 8;
    int64_t done = 0;
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t size = (nv - done + (chunks - c) - 1) / (chunks - c);
        const int64_t d0 = 16 * done;
#define VSUM_CASES(M)                                                                    \
    switch (size) {                                                                      \
    case 1: vsum_avx512(scores, v, stride, n, d0, 1, hd, inv, o, kind, M); break;          \
    case 2: vsum_avx512(scores, v, stride, n, d0, 2, hd, inv, o, kind, M); break;          \
    case 3: vsum_avx512(scores, v, stride, n, d0, 3, hd, inv, o, kind, M); break;          \
    case 4: vsum_avx512(scores, v, stride, n, d0, 4, hd, inv, o, kind, M); break;          \
    case 5: vsum_avx512(scores, v, stride, n, d0, 5, hd, inv, o, kind, M); break;          \
    case 6: vsum_avx512(scores, v, stride, n, d0, 6, hd, inv, o, kind, M); break;          \
    case 7: vsum_avx512(scores, v, stride, n, d0, 7, hd, inv, o, kind, M); break;          \
    default: vsum_avx512(scores, v, stride, n, d0, 8, hd, inv, o, kind, M); break;         \
    }
        if (hd % 16) VSUM_CASES(1) else VSUM_CASES(0)
#undef VSUM_CASES
        done += size;
    }
}

HEAD_VARIANTS(avx512)

void csimd_f16_row_avx512(const float *x, int64_t n, uint16_t *out) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(out + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm256_mask_storeu_epi16(out + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
}

void csimd_gelu_avx512(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        _mm512_storeu_ps(x + i, csimd_gelu512(a));
        _mm512_storeu_ps(x + i + 16, csimd_gelu512(b));
    }
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, csimd_gelu512(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(x + i, m, csimd_gelu512(_mm512_maskz_loadu_ps(m, x + i)));
    }
}
void csimd_covariance_tile_avx512(const float *x, int64_t tokens, int64_t stride, int64_t i0, int64_t k0, float *out) {
    covariance_tile_body(x, tokens, stride, i0, k0, out);
}

CSIMD_TARGET_END
#endif
