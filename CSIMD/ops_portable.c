// The portable ops (scalar path and NEON): loops shaped for the auto-vectorizer. Attention head,
// GELU and the f32 -> f16 row conversion, as csimd_ops_portable (dispatch.c) holds them.
#include "ops_attention.h"
#include "ops_covariance.h"

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

void csimd_gelu_portable_run(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = csimd_gelu_portable(x[i]);
}

void csimd_f16_row_portable(const float *x, int64_t n, uint16_t *out) {
    for (int64_t i = 0; i < n; i++) out[i] = csimd_f32_to_f16(x[i]);
}

void csimd_covariance_tile_portable(const float *x, int64_t tokens, int64_t stride, int64_t i0, int64_t k0, float *out) {
    covariance_tile_body(x, tokens, stride, i0, k0, out);
}
