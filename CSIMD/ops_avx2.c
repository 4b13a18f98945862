// The AVX2 + FMA + F16C ops (csimd_ops_avx2 in dispatch.c): attention head over 8 lanes (head_dim % 8
// tail elements in scalar code), GELU and the f32 -> f16 row conversion.
#include "ops_attention.h"
#include "ops_covariance.h"

#if defined(__x86_64__)
CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX2)
static inline AI __m256 ld256(const void *base, int64_t i, int kind) {
    if (kind == KV_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + i)));
    if (kind == KV_I8) return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const int8_t *)base + i))));
    return _mm256_loadu_ps((const float *)base + i);
}
static inline AI float ld1_f16c(const void *base, int64_t i, int kind) {
    if (kind == KV_F16) return _cvtsh_ss(((const uint16_t *)base)[i]);
    if (kind == KV_I8) return (float)((const int8_t *)base)[i];
    return ((const float *)base)[i];
}
static inline AI __m256 hsum8x8_avx2(const __m256 *a) { HSUM8X8_BODY(a) }
static inline AI float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline AI void scores_avx2(const float *qh, const void *k, int64_t stride, int64_t hd, int64_t last, float scale,
                                  float *scores, int kind) {
    const int64_t nfull = hd / 8, dt = nfull * 8;
    int64_t p = 0;
    for (; p + 8 <= last + 1; p += 8) {
        __m256 a[8];
        for (int r = 0; r < 8; r++) a[r] = _mm256_setzero_ps();
        for (int64_t j = 0; j < nfull; j++) {
            const __m256 qv = _mm256_loadu_ps(qh + j * 8);
            for (int r = 0; r < 8; r++) a[r] = _mm256_fmadd_ps(qv, ld256(k, (p + r) * stride + j * 8, kind), a[r]);
        }
        __m256 s = hsum8x8_avx2(a);
        if (dt < hd) {
            float tail[8];
            for (int r = 0; r < 8; r++) {
                float t = 0.0f;
                for (int64_t d = dt; d < hd; d++) t += qh[d] * ld1_f16c(k, (p + r) * stride + d, kind);
                tail[r] = t;
            }
            s = _mm256_add_ps(s, _mm256_loadu_ps(tail));
        }
        _mm256_storeu_ps(scores + p, _mm256_mul_ps(s, _mm256_set1_ps(scale)));
    }
    for (; p <= last; p++) {
        __m256 acc = _mm256_setzero_ps();
        for (int64_t j = 0; j < nfull; j++)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(qh + j * 8), ld256(k, p * stride + j * 8, kind), acc);
        float s = hsum256(acc);
        for (int64_t d = dt; d < hd; d++) s += qh[d] * ld1_f16c(k, p * stride + d, kind);
        scores[p] = s * scale;
    }
}

/// scores[0..n) <- exp(scores - max); returns their sum.
static inline AI float softmax_avx2(float *s, int64_t n) {
    __m256 mv = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(s + i));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float maxv = _mm_cvtss_f32(m4);
    for (; i < n; i++) maxv = s[i] > maxv ? s[i] : maxv;
    const __m256 mb = _mm256_set1_ps(maxv);
    __m256 sum = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = csimd_exp256(_mm256_sub_ps(_mm256_loadu_ps(s + i), mb));
        _mm256_storeu_ps(s + i, e);
        sum = _mm256_add_ps(sum, e);
    }
    if (i < n) {
        float buf[8];
        for (int j = 0; j < 8; j++) buf[j] = i + j < n ? s[i + j] : maxv;
        const __m256 e = csimd_exp256(_mm256_sub_ps(_mm256_loadu_ps(buf), mb));
        _mm256_storeu_ps(buf, e);
        for (int j = 0; i + j < n; j++) s[i + j] = buf[j];
        const __m256 keep = _mm256_cmp_ps(_mm256_set_ps(7, 6, 5, 4, 3, 2, 1, 0), _mm256_set1_ps((float)(n - i)), _CMP_LT_OQ);
        sum = _mm256_add_ps(sum, _mm256_and_ps(e, keep));
    }
    return hsum256(sum);
}

/// o[d0 + 8 j + l] = inv * sum_p w[p] v_p[...] for j < NV (full vectors), two accumulator sets.
static inline AI void vsum_avx2(const float *w, const void *v, int64_t stride, int64_t n, int64_t d0, const int NV,
                                float inv, float *o, int kind) {
    __m256 a[4], b[4];
    for (int j = 0; j < NV; j++) a[j] = b[j] = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 2 <= n; p += 2) {
        const __m256 w0 = _mm256_broadcast_ss(w + p), w1 = _mm256_broadcast_ss(w + p + 1);
        for (int j = 0; j < NV; j++) {
            a[j] = _mm256_fmadd_ps(w0, ld256(v, p * stride + d0 + 8 * j, kind), a[j]);
            b[j] = _mm256_fmadd_ps(w1, ld256(v, (p + 1) * stride + d0 + 8 * j, kind), b[j]);
        }
    }
    if (p < n) {
        const __m256 w0 = _mm256_broadcast_ss(w + p);
        for (int j = 0; j < NV; j++) a[j] = _mm256_fmadd_ps(w0, ld256(v, p * stride + d0 + 8 * j, kind), a[j]);
    }
    const __m256 vi = _mm256_set1_ps(inv);
    for (int j = 0; j < NV; j++) _mm256_storeu_ps(o + d0 + 8 * j, _mm256_mul_ps(_mm256_add_ps(a[j], b[j]), vi));
}

static inline AI void head_avx2(const float *qh, const void *k, const void *v, const float *ks, const float *vs,
                                int64_t ss, int64_t stride, int64_t hd, int64_t last, float scale, float *scores,
                                float *o, int kind) {
    const int64_t n = last + 1;
    scores_avx2(qh, k, stride, hd, last, scale, scores, kind);
    if (kind == KV_I8) scale_rows(scores, ks, ss, n);
    const float inv = 1.0f / softmax_avx2(scores, n);
    if (kind == KV_I8) scale_rows(scores, vs, ss, n);
    const int64_t nv = hd / 8;
    const int64_t chunks = (nv + 3) / 4;
    int64_t d0 = 0;
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t size = (nv - d0 / 8 + (chunks - c) - 1) / (chunks - c);  // even split of what is left
        switch (size) {
        case 1: vsum_avx2(scores, v, stride, n, d0, 1, inv, o, kind); break;
        case 2: vsum_avx2(scores, v, stride, n, d0, 2, inv, o, kind); break;
        case 3: vsum_avx2(scores, v, stride, n, d0, 3, inv, o, kind); break;
        default: vsum_avx2(scores, v, stride, n, d0, 4, inv, o, kind); break;
        }
        d0 += 8 * size;
    }
    for (int64_t d = nv * 8; d < hd; d++) {
        float s = 0.0f;
        for (int64_t p = 0; p < n; p++) s += scores[p] * ld1_f16c(v, p * stride + d, kind);
        o[d] = s * inv;
    }
}

HEAD_VARIANTS(avx2)

void csimd_f16_row_avx2(const float *x, int64_t n, uint16_t *out) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) out[i] = csimd_f32_to_f16(x[i]);
}

void csimd_gelu_avx2(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        _mm256_storeu_ps(x + i, csimd_gelu256(a));
        _mm256_storeu_ps(x + i + 8, csimd_gelu256(b));
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, csimd_gelu256(_mm256_loadu_ps(x + i)));
    if (i < n) {  // tail through a buffer: same arithmetic as the full vectors
        float buf[8] = {0};
        memcpy(buf, x + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(buf, csimd_gelu256(_mm256_loadu_ps(buf)));
        memcpy(x + i, buf, (size_t)(n - i) * sizeof(float));
    }
}
void csimd_covariance_tile_avx2(const float *x, int64_t tokens, int64_t stride, int64_t i0, int64_t k0, float *out) {
    covariance_tile_body(x, tokens, stride, i0, k0, out);
}

CSIMD_TARGET_END
#endif
