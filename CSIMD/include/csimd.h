// CSIMD: the numeric kernels of the Dolly runtime (C, OpenMP).
// API style: csimd_<noun>_<verb>, sized integers, errors returned, never fatal.
#ifndef CSIMD_H
#define CSIMD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Element/block types of a weight matrix. Values are stored in our file format: never renumber.
typedef enum {
    CSIMD_TYPE_F32 = 0,
    CSIMD_TYPE_F16 = 1,
    CSIMD_TYPE_BF16 = 2,
    CSIMD_TYPE_Q8 = 8,
    CSIMD_TYPE_Q4 = 9,
} csimd_type;

/// A row-major weight matrix used in place (e.g. from a mapped file).
typedef struct {
    const void *data;   // (rows, cols) elements or blocks of `type`
    int64_t rows;
    int64_t cols;
    int64_t row_bytes;  // stride between rows, in bytes
    int32_t type;       // csimd_type
} csimd_matrix;

/// Number of OpenMP threads used by all kernels.
void csimd_threads_set(int32_t n);
int32_t csimd_threads_get(void);

/// y[t, r] = sum_c W[r, c] * x[t, c] (+ bias[r] if bias != NULL) for t < n_tokens.
/// x is (n_tokens, cols) f32, y is (n_tokens, rows) f32. Returns 0, or -1 for an unsupported type.
int32_t csimd_matrix_multiply(const csimd_matrix *w, const float *x, int64_t n_tokens,
                              const float *bias, float *y);

/// Widens `n` elements of `type` starting at element `offset` of row `row` to f32.
int32_t csimd_matrix_row_dequantize(const csimd_matrix *w, int64_t row, float *out);

#ifdef __cplusplus
}
#endif
#endif
