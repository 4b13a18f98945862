// Straightforward f32/f16/bf16 matrix kernels: the reference every faster path is tested against.
#include "csimd.h"
#include <string.h>

static inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float f16_to_f32(uint16_t h) {
    return (float)(*(const _Float16 *)&h);
}

int32_t csimd_matrix_row_dequantize(const csimd_matrix *w, int64_t row, float *out) {
    const uint8_t *p = (const uint8_t *)w->data + row * w->row_bytes;
    switch (w->type) {
    case CSIMD_TYPE_F32:
        memcpy(out, p, (size_t)w->cols * 4);
        return 0;
    case CSIMD_TYPE_BF16:
        for (int64_t c = 0; c < w->cols; c++) {
            uint16_t h;
            memcpy(&h, p + 2 * c, 2);
            out[c] = bf16_to_f32(h);
        }
        return 0;
    case CSIMD_TYPE_F16:
        for (int64_t c = 0; c < w->cols; c++) {
            uint16_t h;
            memcpy(&h, p + 2 * c, 2);
            out[c] = f16_to_f32(h);
        }
        return 0;
    case CSIMD_TYPE_Q8:
        csimd_q8_dequantize_ref((const csimd_block_q8 *)p, w->cols, out);
        return 0;
    case CSIMD_TYPE_Q4:
        csimd_q4_dequantize_ref((const csimd_block_q4 *)p, w->cols, out);
        return 0;
    default:
        return -1;
    }
}

static float dot_row(const csimd_matrix *w, int64_t r, const float *x) {
    const uint8_t *p = (const uint8_t *)w->data + r * w->row_bytes;
    float acc = 0.0f;
    switch (w->type) {
    case CSIMD_TYPE_F32: {
        for (int64_t c = 0; c < w->cols; c++) {
            float v;
            memcpy(&v, p + 4 * c, 4);
            acc += v * x[c];
        }
        break;
    }
    case CSIMD_TYPE_BF16: {
        for (int64_t c = 0; c < w->cols; c++) {
            uint16_t h;
            memcpy(&h, p + 2 * c, 2);
            acc += bf16_to_f32(h) * x[c];
        }
        break;
    }
    case CSIMD_TYPE_F16: {
        for (int64_t c = 0; c < w->cols; c++) {
            uint16_t h;
            memcpy(&h, p + 2 * c, 2);
            acc += f16_to_f32(h) * x[c];
        }
        break;
    }
    }
    return acc;
}

/// Block types: dequantize one block at a time and accumulate in f32 (no activation rounding).
static float dot_row_blocks(const csimd_matrix *w, int64_t r, const float *x) {
    const uint8_t *p = (const uint8_t *)w->data + r * w->row_bytes;
    float tmp[CSIMD_BLOCK_SIZE], acc = 0.0f;
    for (int64_t b = 0; b < w->cols / CSIMD_BLOCK_SIZE; b++) {
        if (w->type == CSIMD_TYPE_Q8) csimd_q8_dequantize_ref((const csimd_block_q8 *)p + b, CSIMD_BLOCK_SIZE, tmp);
        else csimd_q4_dequantize_ref((const csimd_block_q4 *)p + b, CSIMD_BLOCK_SIZE, tmp);
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) acc += tmp[j] * x[b * CSIMD_BLOCK_SIZE + j];
    }
    return acc;
}

int32_t csimd_matrix_multiply(const csimd_matrix *w, const float *x, int64_t n_tokens,
                              const float *bias, float *y) {
    if (w->type == CSIMD_TYPE_Q8 || w->type == CSIMD_TYPE_Q4) {
        if (w->cols % CSIMD_BLOCK_SIZE) return -1;
        const int64_t rows = w->rows, cols = w->cols;
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const float b = bias ? bias[r] : 0.0f;
            for (int64_t t = 0; t < n_tokens; t++) y[t * rows + r] = dot_row_blocks(w, r, x + t * cols) + b;
        }
        return 0;
    }
    if (w->type != CSIMD_TYPE_F32 && w->type != CSIMD_TYPE_BF16 && w->type != CSIMD_TYPE_F16) return -1;
    const int64_t rows = w->rows, cols = w->cols;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float b = bias ? bias[r] : 0.0f;
        for (int64_t t = 0; t < n_tokens; t++) {
            y[t * rows + r] = dot_row(w, r, x + t * cols) + b;
        }
    }
    return 0;
}
