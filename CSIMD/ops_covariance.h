// The covariance tile every ops path compiles (ops_portable.c, ops_avx2.c, ops_avx512.c): written once
// for the auto-vectorizer; each path's target region gives it that ISA's widest FMA.
#ifndef OPS_COVARIANCE_H
#define OPS_COVARIANCE_H
#include "csimd_kernels.h"

/// acc[a][b] = sum over t < tokens of x[t * stride + i0 + a] * x[t * stride + k0 + b]: 16 columns loaded
/// once per token for 4 rows of H, sums kept in registers (one vector per row on AVX-512).
static inline __attribute__((always_inline)) void covariance_tile_body(const float *x, int64_t tokens, int64_t stride,
                                                                       int64_t i0, int64_t k0, float *acc) {
    float s[CSIMD_COV_TILE_I][CSIMD_COV_TILE_K] = {{0}};
    for (int64_t t = 0; t < tokens; t++) {
        const float *xt = x + t * stride;
        for (int a = 0; a < CSIMD_COV_TILE_I; a++)
            for (int b = 0; b < CSIMD_COV_TILE_K; b++) s[a][b] += xt[i0 + a] * xt[k0 + b];
    }
    for (int a = 0; a < CSIMD_COV_TILE_I; a++)
        for (int b = 0; b < CSIMD_COV_TILE_K; b++) acc[a * CSIMD_COV_TILE_K + b] = s[a][b];
}

#endif
