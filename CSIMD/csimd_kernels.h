// Private to CSIMD: the per-ISA kernel table chosen at run time by dispatch.c.
//
// Every fast kernel has a scalar `_ref` twin (quant_ref.c, matrix_ref.c) and must match it:
//  * Q8A quantization: bit-exact (same d = absmax / 127, id = 1 / d, round-to-nearest-even, clamp).
//  * Q dots: each block's integer dot (sum of qw[j] * qa[j]) is computed exactly in int32; only the
//    f32 combination sum_b dw_b * da_b * s_b is reordered. Bound, with M = sum_b |dw_b da_b| sum_j |qw_j qa_j|:
//        |fast - ref| <= 2 * (nb + 16) * 2^-24 * M.
//  * F32/F16/BF16 dots: the f16/bf16 -> f32 widening is exact; only the summation order differs.
//    Bound, with M = sum_i |w_i x_i|:  |fast - ref| <= 2 * (n + 16) * 2^-24 * M.
#ifndef CSIMD_KERNELS_H
#define CSIMD_KERNELS_H

#include "csimd.h"

/// Max weight rows and activation rows a tile kernel handles in one call.
#define CSIMD_TILE_R 4
#define CSIMD_TILE_T 4

/// y[t * y_stride + r] = dot(weight row r, activation row t), r < nr <= CSIMD_TILE_R, t < nt <= CSIMD_TILE_T.
/// Weight row r starts at (const char *)w + r * w_stride; activation row t at a + t * a_stride (blocks).
typedef void (*csimd_tile_q_fn)(const void *w, int64_t w_stride, int nr, const csimd_block_q8a *a,
                                int64_t a_stride, int nt, int64_t nb, float *y, int64_t y_stride);

/// One R16 group (16 rows, csimd_blocks.h) against nt activation rows: same contract as csimd_r16_tile_ref.
typedef void (*csimd_tile_r16_fn)(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a,
                                  int64_t a_stride, int nt, float *y, int64_t y_stride);

typedef struct {
    const char *name;
    void (*q8a_quantize)(const float *x, int64_t n, csimd_block_q8a *out);
    float (*dot_q8)(const csimd_block_q8 *w, const csimd_block_q8a *a, int64_t nb);
    float (*dot_q4)(const csimd_block_q4 *w, const csimd_block_q8a *a, int64_t nb);
    float (*dot_f32)(const float *w, const float *x, int64_t n);
    float (*dot_f16)(const uint16_t *w, const float *x, int64_t n);
    float (*dot_bf16)(const uint16_t *w, const float *x, int64_t n);
    csimd_tile_q_fn tile_q8;  // NULL: dispatch.c loops over dot_q8
    csimd_tile_q_fn tile_q4;  // NULL: dispatch.c loops over dot_q4
    csimd_tile_r16_fn tile_q4r16;  // NULL: csimd_r16_tile_ref
    csimd_tile_r16_fn tile_q8r16;  // NULL: csimd_r16_tile_ref
} csimd_kernel_table;

#if defined(__x86_64__)
void csimd_tile_q4r16_avx512(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a, int64_t a_stride,
                             int nt, float *y, int64_t y_stride);
void csimd_tile_q8r16_avx512(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a, int64_t a_stride,
                             int nt, float *y, int64_t y_stride);
#endif

#if defined(__aarch64__)
void csimd_tile_q4r16_neon(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a, int64_t a_stride,
                           int nt, float *y, int64_t y_stride);
void csimd_tile_q8r16_neon(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a, int64_t a_stride,
                           int nt, float *y, int64_t y_stride);
void csimd_tile_q4r16_neon_dotprod(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a,
                                   int64_t a_stride, int nt, float *y, int64_t y_stride);
void csimd_tile_q8r16_neon_dotprod(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a,
                                   int64_t a_stride, int nt, float *y, int64_t y_stride);
#endif

/// The table in use (lazy, thread-safe initialization; honours DOLLY_KERNEL on first use).
const csimd_kernel_table *csimd_kernels_current(void);

#if defined(__x86_64__)
extern const csimd_kernel_table csimd_kernels_avx2;
extern const csimd_kernel_table csimd_kernels_avx2_vnni;
extern const csimd_kernel_table csimd_kernels_avx512_vnni;
#endif
#if defined(__aarch64__)
extern const csimd_kernel_table csimd_kernels_neon;
extern const csimd_kernel_table csimd_kernels_neon_dotprod;
#endif

#endif
