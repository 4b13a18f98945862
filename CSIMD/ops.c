// The dispatched ops' entry points: causal attention over an f32, IEEE-half or 8-bit K/V cache (contract:
// csimd_attention_ref in csimd.h), GELU, and the row conversions that fill the half and 8-bit caches. Which
// ISA runs is the kernel table's `ops` (dispatch.c), chosen once at start-up.
//
// Attention threads: OpenMP over (head, token) pairs, head-major with schedule(static, 1): neighbouring
// tokens of a head alternate between threads (the causal triangle stays balanced) and each thread keeps
// walking the K/V slice of one head (cache friendly). Static schedules only (libomp 14 lacks
// __kmpc_dispatch_deinit). Every region's team is the caller's n_threads (csimd.h, "Threads").
#include "csimd_kernels.h"
#include <math.h>
#include <omp.h>

/// Elements per OpenMP work item of csimd_gelu; smaller arrays run on the calling thread.
#define GELU_CHUNK 16384

static void attention_run(csimd_attn_head_fn fn, size_t esz, const float *q, int64_t q_token_stride, int64_t q_head_stride,
                          const void *k_cache, const void *v_cache, const float *k_scale, const float *v_scale,
                          int64_t n_heads, int64_t head_dim, int64_t kv_head_stride, int64_t kv_pos_stride,
                          int64_t pos0, int64_t n_tokens, float scale, float *scratch, float *out, int32_t n_threads) {
    const int64_t width = n_heads * head_dim;
    const int64_t span = pos0 + n_tokens;
    // The team size is the caller's: scratch holds exactly n_threads rows of scores.
#pragma omp parallel for schedule(static, 1) collapse(2) num_threads(csimd_team(n_threads))
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
                         int64_t kv_pos_stride, int64_t pos0, int64_t n_tokens, float scale, float *scratch, float *out, int32_t n_threads) {
    attention_run(ops()->head_f32, sizeof(float), q, q_token_stride, q_head_stride, k_cache, v_cache, NULL, NULL,
                  n_heads, head_dim, kv_head_stride, kv_pos_stride, pos0, n_tokens, scale, scratch, out, n_threads);
}

void csimd_attention_f16(const float *q, int64_t q_token_stride, int64_t q_head_stride, const uint16_t *k_cache,
                         const uint16_t *v_cache, int64_t n_heads, int64_t head_dim, int64_t kv_head_stride,
                         int64_t kv_pos_stride, int64_t pos0, int64_t n_tokens, float scale, float *scratch, float *out, int32_t n_threads) {
    attention_run(ops()->head_f16, sizeof(uint16_t), q, q_token_stride, q_head_stride, k_cache, v_cache, NULL, NULL,
                  n_heads, head_dim, kv_head_stride, kv_pos_stride, pos0, n_tokens, scale, scratch, out, n_threads);
}

void csimd_attention_q8(const float *q, int64_t q_token_stride, int64_t q_head_stride, const int8_t *k_cache,
                        const float *k_scale, const int8_t *v_cache, const float *v_scale, int64_t n_heads,
                        int64_t head_dim, int64_t kv_head_stride, int64_t kv_pos_stride, int64_t pos0,
                        int64_t n_tokens, float scale, float *scratch, float *out, int32_t n_threads) {
    attention_run(ops()->head_i8, sizeof(int8_t), q, q_token_stride, q_head_stride, k_cache, v_cache, k_scale, v_scale,
                  n_heads, head_dim, kv_head_stride, kv_pos_stride, pos0, n_tokens, scale, scratch, out, n_threads);
}

void csimd_f32_to_f16_row(const float *x, int64_t n, uint16_t *out) { ops()->f16_row(x, n, out); }

void csimd_gelu(float *x, int64_t n, int32_t n_threads) {
    if (n <= 0) return;
    void (*fn)(float *, int64_t) = ops()->gelu;
    const int64_t chunks = (n + GELU_CHUNK - 1) / GELU_CHUNK;
    if (chunks == 1 || n_threads <= 1) {
        fn(x, n);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(csimd_team(n_threads))
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t first = c * GELU_CHUNK;
        fn(x + first, n - first < GELU_CHUNK ? n - first : GELU_CHUNK);
    }
}

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
