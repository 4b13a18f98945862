// Causal attention over an f32, IEEE-half or 8-bit K/V cache (contract: csimd_attention_ref in csimd.h), and
// the row conversions that fill the half and 8-bit caches.
//
// Per (head, query): scores = scale * q.k_p for p <= pos0 + t (SIMD dots, eight positions at a time,
// reduced together), softmax with the vectorized exp of ops_simd.h, then out = (sum_p e_p v_p) / sum_p e_p
// with the output row held in registers (chunks of up to 8 vectors, two accumulator sets for even/odd p).
// Differences to csimd_attention_ref are f32 rounding only: summation order, exp (~1 ulp), 1 / sum applied last.
//
// Threads: OpenMP over (head, token) pairs, head-major with schedule(static, 1): neighbouring tokens of a
// head alternate between threads (the causal triangle stays balanced) and each thread keeps walking the
// K/V slice of one head (cache friendly). Static schedules only (libomp 14 lacks __kmpc_dispatch_deinit).
#include "ops_simd.h"
#include <math.h>
#include <omp.h>

typedef csimd_attn_head_fn head_fn;

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

// ---- Portable C (scalar path, NEON): loops shaped for the auto-vectorizer ----
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

static inline AI void head_portable(const float *qh, const void *k, const void *v, const float *ks, const float *vs,
                                    int64_t ss, int64_t stride, int64_t hd, int64_t last, float scale, float *scores,
                                    float *o, int kind) {
    for (int64_t p = 0; p <= last; p++) {
        const int64_t base = p * stride;
        float acc[8] = {0};
        float s = 0.0f;
        // f16 / i8: widen up to 64 at a time into a buffer (a plain loop the vectorizer takes), then dot.
        for (int64_t c0 = 0; c0 < hd; c0 += 64) {
            const int64_t len = hd - c0 < 64 ? hd - c0 : 64;
            float kb[64];
            const float *kr = (const float *)k + base + c0;
            if (kind != KV_F32) {
                for (int64_t j = 0; j < len; j++) kb[j] = ld_elem(k, base + c0 + j, kind);
                kr = kb;
            }
            const float *qr = qh + c0;
            int64_t j = 0;
            for (; j + 8 <= len; j += 8)
                for (int l = 0; l < 8; l++) acc[l] += qr[j + l] * kr[j + l];
            for (; j < len; j++) s += qr[j] * kr[j];
        }
        s += ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        scores[p] = s * scale;
    }
    if (kind == KV_I8) scale_rows(scores, ks, ss, last + 1);
    float maxv = -INFINITY;
    for (int64_t p = 0; p <= last; p++) maxv = scores[p] > maxv ? scores[p] : maxv;
    for (int64_t p = 0; p <= last; p++) scores[p] = csimd_expf_portable(scores[p] - maxv);
    float part[8] = {0};
    int64_t p = 0;
    for (; p + 8 <= last + 1; p += 8)
        for (int j = 0; j < 8; j++) part[j] += scores[p + j];
    float sum = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
    for (; p <= last; p++) sum += scores[p];
    if (kind == KV_I8) scale_rows(scores, vs, ss, last + 1);
    memset(o, 0, (size_t)hd * sizeof(float));
    for (int64_t pp = 0; pp <= last; pp++) {
        const float w = scores[pp];
        const int64_t base = pp * stride;
        for (int64_t d = 0; d < hd; d++) o[d] += w * ld_elem(v, base + d, kind);
    }
    const float inv = 1.0f / sum;
    for (int64_t d = 0; d < hd; d++) o[d] *= inv;
}

HEAD_VARIANTS(portable)

#if defined(__x86_64__)
// Eight 8-lane partial sums -> one vector of their eight totals.
#define HSUM8X8_BODY(a)                                                                             \
    const __m256 h01 = _mm256_hadd_ps(a[0], a[1]), h23 = _mm256_hadd_ps(a[2], a[3]);                \
    const __m256 h45 = _mm256_hadd_ps(a[4], a[5]), h67 = _mm256_hadd_ps(a[6], a[7]);                \
    const __m256 h0123 = _mm256_hadd_ps(h01, h23), h4567 = _mm256_hadd_ps(h45, h67);                \
    return _mm256_add_ps(_mm256_permute2f128_ps(h0123, h4567, 0x20), _mm256_permute2f128_ps(h0123, h4567, 0x31));

// ---- AVX2 + FMA + F16C: 8 lanes; head_dim % 8 tail elements in scalar code ----
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
CSIMD_TARGET_END

// ---- AVX-512: 16 lanes, masked loads/stores for the head_dim % 16 tail ----
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
CSIMD_TARGET_END
#endif  // __x86_64__

// ---- Entry points ----
static void attention_run(head_fn fn, size_t esz, const float *q, int64_t q_token_stride, int64_t q_head_stride,
                          const void *k_cache, const void *v_cache, const float *k_scale, const float *v_scale,
                          int64_t n_heads, int64_t head_dim, int64_t kv_head_stride, int64_t kv_pos_stride,
                          int64_t pos0, int64_t n_tokens, float scale, float *scratch, float *out) {
    const int64_t width = n_heads * head_dim;
    const int64_t span = pos0 + n_tokens;
#pragma omp parallel for schedule(static, 1) collapse(2)
    for (int64_t h = 0; h < n_heads; h++) {
        for (int64_t t = 0; t < n_tokens; t++) {
            float *scores = scratch + (int64_t)omp_get_thread_num() * span;
            const char *kh = (const char *)k_cache + (size_t)(h * kv_head_stride) * esz;
            const char *vh = (const char *)v_cache + (size_t)(h * kv_head_stride) * esz;
            const int64_t sh = h * kv_head_stride / head_dim;  // the scale of a row sits at its offset / head_dim
            fn(q + t * q_token_stride + h * q_head_stride, kh, vh, k_scale ? k_scale + sh : NULL,
               v_scale ? v_scale + sh : NULL, kv_pos_stride / head_dim, kv_pos_stride, head_dim, pos0 + t, scale,
               scores, out + t * width + h * head_dim);
        }
    }
}

/// The ops of the kernel path in use (dispatch.c: one table, chosen at start-up).
static const csimd_ops_table *ops(void) { return csimd_kernels_current()->ops; }

void csimd_attention_f32(const float *q, int64_t q_token_stride, int64_t q_head_stride, const float *k_cache,
                         const float *v_cache, int64_t n_heads, int64_t head_dim, int64_t kv_head_stride,
                         int64_t kv_pos_stride, int64_t pos0, int64_t n_tokens, float scale, float *scratch, float *out) {
    attention_run(ops()->head_f32, sizeof(float), q, q_token_stride, q_head_stride, k_cache, v_cache, NULL, NULL,
                  n_heads, head_dim, kv_head_stride, kv_pos_stride, pos0, n_tokens, scale, scratch, out);
}

void csimd_attention_f16(const float *q, int64_t q_token_stride, int64_t q_head_stride, const uint16_t *k_cache,
                         const uint16_t *v_cache, int64_t n_heads, int64_t head_dim, int64_t kv_head_stride,
                         int64_t kv_pos_stride, int64_t pos0, int64_t n_tokens, float scale, float *scratch, float *out) {
    attention_run(ops()->head_f16, sizeof(uint16_t), q, q_token_stride, q_head_stride, k_cache, v_cache, NULL, NULL,
                  n_heads, head_dim, kv_head_stride, kv_pos_stride, pos0, n_tokens, scale, scratch, out);
}

void csimd_attention_q8(const float *q, int64_t q_token_stride, int64_t q_head_stride, const int8_t *k_cache,
                        const float *k_scale, const int8_t *v_cache, const float *v_scale, int64_t n_heads,
                        int64_t head_dim, int64_t kv_head_stride, int64_t kv_pos_stride, int64_t pos0,
                        int64_t n_tokens, float scale, float *scratch, float *out) {
    attention_run(ops()->head_i8, sizeof(int8_t), q, q_token_stride, q_head_stride, k_cache, v_cache, k_scale, v_scale,
                  n_heads, head_dim, kv_head_stride, kv_pos_stride, pos0, n_tokens, scale, scratch, out);
}

void csimd_f16_row_portable(const float *x, int64_t n, uint16_t *out) {
    for (int64_t i = 0; i < n; i++) out[i] = csimd_f32_to_f16(x[i]);
}

void csimd_f32_to_f16_row(const float *x, int64_t n, uint16_t *out) { ops()->f16_row(x, n, out); }

float csimd_kv_q8_row(const float *x, int64_t n, int8_t *out) {
    float amax = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        const float a = fabsf(x[i]);
        amax = a > amax ? a : amax;  // NaN never wins
    }
    const float d = amax / 127.0f;
    const float inv = d > 0.0f ? 1.0f / d : 0.0f;  // an infinite d gives inv 0: finite values store 0
    for (int64_t i = 0; i < n; i++) {
        float v = nearbyintf(x[i] * inv);
        v = v > 127.0f ? 127.0f : v;
        v = v < -127.0f ? -127.0f : v;
        out[i] = v == v ? (int8_t)v : 0;  // NaN (x NaN, or inf * 0) stores 0; never cast NaN to int
    }
    return d;
}
