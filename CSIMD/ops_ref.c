// The scalar ops: LayerNorm and rotary (one implementation each: cheap next to the matrix products, kept
// exact) and the references of the dispatched ops, csimd_gelu_ref and csimd_attention_ref (libm erf / exp).
#include "csimd_kernels.h"
#include <math.h>
#include <string.h>

void csimd_layernorm(const float *x, int64_t n_tokens, int64_t dim, const float *weight,
                     const float *bias, float eps, float *y) {
    for (int64_t t = 0; t < n_tokens; t++) {
        const float *xt = x + t * dim;
        float *yt = y + t * dim;
        // Two passes in double: the mean/variance of large activations loses bits in f32.
        double mean = 0.0;
        for (int64_t i = 0; i < dim; i++) mean += xt[i];
        mean /= (double)dim;
        double var = 0.0;
        for (int64_t i = 0; i < dim; i++) {
            double d = xt[i] - mean;
            var += d * d;
        }
        var /= (double)dim;
        const float inv = (float)(1.0 / sqrt(var + (double)eps));
        const float m = (float)mean;
        for (int64_t i = 0; i < dim; i++) yt[i] = (xt[i] - m) * inv * weight[i] + bias[i];
    }
}

void csimd_gelu_ref(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    }
}

void csimd_rotary_apply(float *vec, int64_t n_heads, int64_t head_stride, int64_t rot_dims,
                        const float *cos, const float *sin) {
    const int64_t half = rot_dims / 2;
    for (int64_t h = 0; h < n_heads; h++) {
        float *v = vec + h * head_stride;
        for (int64_t i = 0; i < half; i++) {
            const float a = v[i], b = v[i + half];
            v[i] = a * cos[i] - b * sin[i];
            v[i + half] = b * cos[i] + a * sin[i];
        }
    }
}

void csimd_attention_ref(const float *q, int64_t q_token_stride, int64_t q_head_stride,
                         const float *k_cache, const float *v_cache, int64_t n_heads, int64_t head_dim,
                         int64_t kv_head_stride, int64_t kv_pos_stride, int64_t pos0, int64_t n_tokens,
                         float scale, float *scratch, float *out) {
    const int64_t width = n_heads * head_dim;
    // The specification: one thread, one scores row.
    for (int64_t t = 0; t < n_tokens; t++) {
        for (int64_t h = 0; h < n_heads; h++) {
            float *scores = scratch;
            const float *qh = q + t * q_token_stride + h * q_head_stride;
            const int64_t last = pos0 + t;
            float maxv = -INFINITY;
            for (int64_t p = 0; p <= last; p++) {
                const float *kp = k_cache + h * kv_head_stride + p * kv_pos_stride;
                float s = 0.0f;
                for (int64_t d = 0; d < head_dim; d++) s += qh[d] * kp[d];
                s *= scale;
                scores[p] = s;
                if (s > maxv) maxv = s;
            }
            float sum = 0.0f;
            for (int64_t p = 0; p <= last; p++) {
                scores[p] = expf(scores[p] - maxv);
                sum += scores[p];
            }
            const float inv = 1.0f / sum;
            float *o = out + t * width + h * head_dim;
            memset(o, 0, (size_t)head_dim * sizeof(float));
            for (int64_t p = 0; p <= last; p++) {
                const float w = scores[p] * inv;
                const float *vp = v_cache + h * kv_head_stride + p * kv_pos_stride;
                for (int64_t d = 0; d < head_dim; d++) o[d] += w * vp[d];
            }
        }
    }
}

void csimd_covariance_tile_ref(const float *x, int64_t tokens, int64_t stride, int64_t i0, int64_t k0, float *out) {
    for (int a = 0; a < CSIMD_COV_TILE_I; a++)
        for (int b = 0; b < CSIMD_COV_TILE_K; b++) {
            float s = 0.0f;
            for (int64_t t = 0; t < tokens; t++) s += x[t * stride + i0 + a] * x[t * stride + k0 + b];
            out[a * CSIMD_COV_TILE_K + b] = s;
        }
}
