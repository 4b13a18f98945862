// LoRA kernels over blocks of tokens for the AVX-512 tables (contract: csimd_kernels.h). A prompt
// pass used to run single-token kernels once per token, loading and widening every weight vector
// again for each, and the f16 down projection (dot_f16, four accumulators per dot) could share no
// x load between rows of A. Here each weight vector is widened once per block of tokens and each x
// vector loaded once per block of rows. A token's arithmetic never depends on its block: the f32 /
// f16 down projections keep one accumulator per (token, row) in every block size, down_q8 and up_*
// are operation for operation lora_x86.c's single-token kernels, so a row's result is bit-identical
// whether it is alone or in a block (LoRARuntimeTests checks it).
#include "csimd_kernels.h"
#include "csimd_target.h"

#if defined(__x86_64__)
#include <immintrin.h>

CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX512)

/// Register blocks: down keeps DOWN_RB x DOWN_TB accumulators (rows of A x tokens) beside DOWN_RB
/// weight vectors; q8 down also holds each row's two widened halves and scale; up keeps 4 per token
/// (64 outputs) beside 4 weight vectors.
#define DOWN_RB 4
#define DOWN_TB 6
#define DOWN_Q8_RB 2
#define DOWN_Q8_TB 4
#define UP_TB 6
#define UP_Q8_TB 5

#include "lora_avx512_blocks.h"

/// w[i..i+16) of the lanes in m as f32 (the others zero), from f16 or f32 elements: dot's loads.
static inline __m512 ld_w(const void *w, int f16, int64_t i, __mmask16 m) {
    return f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)w + i))
               : _mm512_maskz_loadu_ps(m, (const float *)w + i);
}

// ---- Down projections ----

/// R <= DOWN_RB rows of A (a_stride elements apart) with T <= DOWN_TB tokens' x (cols apart):
/// out[t * os + r] = sum over 16-column steps of one 16-lane accumulator, the last step masked,
/// then the lanes' sum. R and T are constants after inlining: R x T accumulators in registers, each
/// A vector widened once for T tokens and each x vector loaded once for R rows.
static inline __attribute__((always_inline)) void down_block(const void *a, int f16, int64_t a_stride, int64_t n,
                                                             const float *x, int R, int T, float *out, int64_t os) {
    __m512 acc[DOWN_RB][DOWN_TB];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
        __m512 w[DOWN_RB];
        if (!f16 || (i & 31) == 0)  // one prefetch per row and cache line
            for (int r = 0; r < R; r++)
                _mm_prefetch((const char *)a + (r * a_stride + i) * (f16 ? 2 : 4) + CSIMD_LORA_PREFETCH, _MM_HINT_T0);
        for (int r = 0; r < R; r++) w[r] = ld_w(a, f16, r * a_stride + i, m);
        for (int t = 0; t < T; t++) {
            const __m512 xt = _mm512_maskz_loadu_ps(m, x + t * n + i);
            for (int r = 0; r < R; r++) acc[r][t] = _mm512_fmadd_ps(w[r], xt, acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) out[t * os + r] = _mm512_reduce_add_ps(acc[r][t]);
}

/// down_block over any number of tokens, R rows.
static inline __attribute__((always_inline)) void down_rows_tb(const void *a, int f16, int64_t a_stride, int64_t n,
                                                               const float *x, int R, int64_t n_tokens, float *out,
                                                               int64_t os) {
    int64_t t = 0;
    for (; t + DOWN_TB <= n_tokens; t += DOWN_TB) down_block(a, f16, a_stride, n, x + t * n, R, DOWN_TB, out + t * os, os);
    switch (n_tokens - t) {
    case 5: down_block(a, f16, a_stride, n, x + t * n, R, 5, out + t * os, os); break;
    case 4: down_block(a, f16, a_stride, n, x + t * n, R, 4, out + t * os, os); break;
    case 3: down_block(a, f16, a_stride, n, x + t * n, R, 3, out + t * os, os); break;
    case 2: down_block(a, f16, a_stride, n, x + t * n, R, 2, out + t * os, os); break;
    case 1: down_block(a, f16, a_stride, n, x + t * n, R, 1, out + t * os, os); break;
    default: break;
    }
}

static inline __attribute__((always_inline)) void down_tokens(const void *a, int f16, int64_t n_rows, int64_t n,
                                                              const float *x, int64_t n_tokens, float *out, int64_t os) {
    const size_t elem = f16 ? 2 : 4;
    int64_t r = 0;
    for (; r + DOWN_RB <= n_rows; r += DOWN_RB)
        down_rows_tb((const char *)a + r * n * elem, f16, n, n, x, DOWN_RB, n_tokens, out + r, os);
    for (; r < n_rows; r++) down_rows_tb((const char *)a + r * n * elem, f16, n, n, x, 1, n_tokens, out + r, os);
}

void csimd_lora_down_f32_tokens_avx512(const void *a, int64_t n_rows, int64_t cols, const float *x, int64_t n_tokens,
                                       float *out, int64_t out_stride) {
    down_tokens(a, 0, n_rows, cols, x, n_tokens, out, out_stride);
}

void csimd_lora_down_f16_tokens_avx512(const void *a, int64_t n_rows, int64_t cols, const float *x, int64_t n_tokens,
                                       float *out, int64_t out_stride) {
    down_tokens(a, 1, n_rows, cols, x, n_tokens, out, out_stride);
}

/// lora_x86.c's down_q8 for R <= DOWN_Q8_RB rows of A (nb blocks each) and T <= DOWN_Q8_TB tokens:
/// per token and row, s = q0 x0, s += q1 x1, acc += d s per block, then the lanes' sum, as there.
static inline __attribute__((always_inline)) void down_q8_block(const csimd_block_q8 *a, int64_t nb, const float *x,
                                                                int R, int T, float *out, int64_t os) {
    const int64_t n = nb * CSIMD_BLOCK_SIZE;
    __m512 acc[DOWN_Q8_RB][DOWN_Q8_TB];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m512 q0[DOWN_Q8_RB], q1[DOWN_Q8_RB], d[DOWN_Q8_RB];
        for (int r = 0; r < R; r++) {
            const csimd_block_q8 *blk = a + r * nb + b;
            q0[r] = q8x16(blk->qs);
            q1[r] = q8x16(blk->qs + 16);
            d[r] = f16_splat512(blk->d);
        }
        for (int t = 0; t < T; t++) {
            const float *xb = x + t * n + b * CSIMD_BLOCK_SIZE;
            const __m512 x0 = _mm512_loadu_ps(xb), x1 = _mm512_loadu_ps(xb + 16);
            for (int r = 0; r < R; r++) {
                __m512 s = _mm512_mul_ps(q0[r], x0);
                s = _mm512_fmadd_ps(q1[r], x1, s);
                acc[r][t] = _mm512_fmadd_ps(d[r], s, acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) out[t * os + r] = _mm512_reduce_add_ps(acc[r][t]);
}

static inline __attribute__((always_inline)) void down_q8_rows_tb(const csimd_block_q8 *a, int64_t nb, const float *x,
                                                                  int R, int64_t n_tokens, float *out, int64_t os) {
    const int64_t n = nb * CSIMD_BLOCK_SIZE;
    int64_t t = 0;
    for (; t + DOWN_Q8_TB <= n_tokens; t += DOWN_Q8_TB) down_q8_block(a, nb, x + t * n, R, DOWN_Q8_TB, out + t * os, os);
    switch (n_tokens - t) {
    case 3: down_q8_block(a, nb, x + t * n, R, 3, out + t * os, os); break;
    case 2: down_q8_block(a, nb, x + t * n, R, 2, out + t * os, os); break;
    case 1: down_q8_block(a, nb, x + t * n, R, 1, out + t * os, os); break;
    default: break;
    }
}

void csimd_lora_down_q8_tokens_avx512(const void *a_rows, int64_t n_rows, int64_t cols, const float *x,
                                      int64_t n_tokens, float *out, int64_t out_stride) {
    const csimd_block_q8 *a = a_rows;
    const int64_t nb = cols / CSIMD_BLOCK_SIZE;
    int64_t r = 0;
    for (; r + DOWN_Q8_RB <= n_rows; r += DOWN_Q8_RB)
        down_q8_rows_tb(a + r * nb, nb, x, DOWN_Q8_RB, n_tokens, out + r, out_stride);
    for (; r < n_rows; r++) down_q8_rows_tb(a + r * nb, nb, x, 1, n_tokens, out + r, out_stride);
}

// ---- Up projections ----

/// up_f16 / up_f32 for T <= UP_TB tokens: t holds their down results (rank apart), y their outputs
/// (ys apart).
static inline __attribute__((always_inline)) void up_block(const void *bt, int f16, int64_t rank, int64_t stride,
                                                           const float *tk, int T, float s, float *y, int64_t ys,
                                                           int64_t n) {
    const __mmask16 all = 0xFFFF;
    const __m512 vs = _mm512_set1_ps(s);
    int64_t o = 0;
    for (; o + 64 <= n; o += 64) {
        __m512 acc[UP_TB][4];
        for (int t = 0; t < T; t++)
            for (int j = 0; j < 4; j++) acc[t][j] = _mm512_setzero_ps();
        for (int64_t k = 0; k < rank; k++) {
            const int64_t row = k * stride + o;
            const __m512 w0 = ld_w(bt, f16, row, all), w1 = ld_w(bt, f16, row + 16, all);
            const __m512 w2 = ld_w(bt, f16, row + 32, all), w3 = ld_w(bt, f16, row + 48, all);
            for (int t = 0; t < T; t++) {
                const __m512 c = _mm512_set1_ps(tk[t * rank + k]);
                acc[t][0] = _mm512_fmadd_ps(c, w0, acc[t][0]);
                acc[t][1] = _mm512_fmadd_ps(c, w1, acc[t][1]);
                acc[t][2] = _mm512_fmadd_ps(c, w2, acc[t][2]);
                acc[t][3] = _mm512_fmadd_ps(c, w3, acc[t][3]);
            }
        }
        for (int t = 0; t < T; t++) {
            float *yo = y + t * ys + o;
            for (int j = 0; j < 4; j++)
                _mm512_storeu_ps(yo + 16 * j, _mm512_fmadd_ps(vs, acc[t][j], _mm512_loadu_ps(yo + 16 * j)));
        }
    }
    for (; o < n; o += 16) {  // the single-token kernel's masked tail
        const __mmask16 m = n - o >= 16 ? all : (__mmask16)((1u << (n - o)) - 1u);
        __m512 acc[UP_TB];
        for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
        for (int64_t k = 0; k < rank; k++) {
            const __m512 w0 = ld_w(bt, f16, k * stride + o, m);
            for (int t = 0; t < T; t++) acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(tk[t * rank + k]), w0, acc[t]);
        }
        for (int t = 0; t < T; t++) {
            float *yo = y + t * ys + o;
            _mm512_mask_storeu_ps(yo, m, _mm512_fmadd_ps(vs, acc[t], _mm512_maskz_loadu_ps(m, yo)));
        }
    }
}

static inline __attribute__((always_inline)) void up_tokens(const void *bt, int f16, int64_t rank, int64_t stride,
                                                            const float *tk, int64_t n_tokens, float s, float *y,
                                                            int64_t ys, int64_t n) {
    int64_t t = 0;
    for (; t + UP_TB <= n_tokens; t += UP_TB) up_block(bt, f16, rank, stride, tk + t * rank, UP_TB, s, y + t * ys, ys, n);
    switch (n_tokens - t) {
    case 5: up_block(bt, f16, rank, stride, tk + t * rank, 5, s, y + t * ys, ys, n); break;
    case 4: up_block(bt, f16, rank, stride, tk + t * rank, 4, s, y + t * ys, ys, n); break;
    case 3: up_block(bt, f16, rank, stride, tk + t * rank, 3, s, y + t * ys, ys, n); break;
    case 2: up_block(bt, f16, rank, stride, tk + t * rank, 2, s, y + t * ys, ys, n); break;
    case 1: up_block(bt, f16, rank, stride, tk + t * rank, 1, s, y + t * ys, ys, n); break;
    default: break;
    }
}

void csimd_lora_up_f32_tokens_avx512(const void *bt, int64_t rank, int64_t stride, const float *t, int64_t n_tokens,
                                     float s, float *y, int64_t y_stride, int64_t n) {
    up_tokens(bt, 0, rank, stride, t, n_tokens, s, y, y_stride, n);
}

void csimd_lora_up_f16_tokens_avx512(const void *bt, int64_t rank, int64_t stride, const float *t, int64_t n_tokens,
                                     float s, float *y, int64_t y_stride, int64_t n) {
    up_tokens(bt, 1, rank, stride, t, n_tokens, s, y, y_stride, n);
}

/// up_q8 for T <= UP_Q8_TB tokens over nb blocks of outputs: pairs of blocks, then a single block,
/// as the single-token kernel walks them (each output's sum is over k either way).
static inline __attribute__((always_inline)) void up_q8_block(const csimd_block_q8 *bt, int64_t rank, int64_t stride,
                                                              const float *tk, int T, float s, float *y, int64_t ys,
                                                              int64_t nb) {
    const __m512 vs = _mm512_set1_ps(s);
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512 acc[UP_Q8_TB][4];
        for (int t = 0; t < T; t++)
            for (int j = 0; j < 4; j++) acc[t][j] = _mm512_setzero_ps();
        for (int64_t k = 0; k < rank; k++) {
            const csimd_block_q8 *blk = bt + k * stride + b;
            const __m512 d0 = f16_splat512(blk[0].d), d1 = f16_splat512(blk[1].d);
            const __m512 q0 = q8x16(blk[0].qs), q1 = q8x16(blk[0].qs + 16), q2 = q8x16(blk[1].qs), q3 = q8x16(blk[1].qs + 16);
            for (int t = 0; t < T; t++) {
                const __m512 tv = _mm512_set1_ps(tk[t * rank + k]);
                const __m512 c0 = _mm512_mul_ps(tv, d0), c1 = _mm512_mul_ps(tv, d1);
                acc[t][0] = _mm512_fmadd_ps(c0, q0, acc[t][0]);
                acc[t][1] = _mm512_fmadd_ps(c0, q1, acc[t][1]);
                acc[t][2] = _mm512_fmadd_ps(c1, q2, acc[t][2]);
                acc[t][3] = _mm512_fmadd_ps(c1, q3, acc[t][3]);
            }
        }
        for (int t = 0; t < T; t++) {
            float *yb = y + t * ys + b * CSIMD_BLOCK_SIZE;
            for (int j = 0; j < 4; j++)
                _mm512_storeu_ps(yb + 16 * j, _mm512_fmadd_ps(vs, acc[t][j], _mm512_loadu_ps(yb + 16 * j)));
        }
    }
    for (; b < nb; b++) {
        __m512 acc[UP_Q8_TB][2];
        for (int t = 0; t < T; t++) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
        for (int64_t k = 0; k < rank; k++) {
            const csimd_block_q8 *blk = bt + k * stride + b;
            const __m512 d = f16_splat512(blk->d);
            const __m512 q0 = q8x16(blk->qs), q1 = q8x16(blk->qs + 16);
            for (int t = 0; t < T; t++) {
                const __m512 c = _mm512_mul_ps(_mm512_set1_ps(tk[t * rank + k]), d);
                acc[t][0] = _mm512_fmadd_ps(c, q0, acc[t][0]);
                acc[t][1] = _mm512_fmadd_ps(c, q1, acc[t][1]);
            }
        }
        for (int t = 0; t < T; t++) {
            float *yb = y + t * ys + b * CSIMD_BLOCK_SIZE;
            _mm512_storeu_ps(yb, _mm512_fmadd_ps(vs, acc[t][0], _mm512_loadu_ps(yb)));
            _mm512_storeu_ps(yb + 16, _mm512_fmadd_ps(vs, acc[t][1], _mm512_loadu_ps(yb + 16)));
        }
    }
}

void csimd_lora_up_q8_tokens_avx512(const void *bt, int64_t rank, int64_t stride, const float *t, int64_t n_tokens,
                                    float s, float *y, int64_t y_stride, int64_t nb) {
    const csimd_block_q8 *q = bt;
    int64_t j = 0;
    for (; j + UP_Q8_TB <= n_tokens; j += UP_Q8_TB)
        up_q8_block(q, rank, stride, t + j * rank, UP_Q8_TB, s, y + j * y_stride, y_stride, nb);
    switch (n_tokens - j) {
    case 4: up_q8_block(q, rank, stride, t + j * rank, 4, s, y + j * y_stride, y_stride, nb); break;
    case 3: up_q8_block(q, rank, stride, t + j * rank, 3, s, y + j * y_stride, y_stride, nb); break;
    case 2: up_q8_block(q, rank, stride, t + j * rank, 2, s, y + j * y_stride, y_stride, nb); break;
    case 1: up_q8_block(q, rank, stride, t + j * rank, 1, s, y + j * y_stride, y_stride, nb); break;
    default: break;
    }
}

CSIMD_TARGET_END
#endif
