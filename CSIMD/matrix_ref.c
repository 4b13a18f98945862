// Straightforward f32/f16/bf16 matrix kernels: the reference every faster path is tested against.
#include "csimd_kernels.h"
#include <stdlib.h>
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
    if (csimd_r16_tile_bytes(w->type)) {
        if (w->cols % CSIMD_BLOCK_SIZE) return -1;
        const uint8_t *group = (const uint8_t *)w->data + (row / CSIMD_R16) * w->row_bytes;
        const int64_t nb = w->cols / CSIMD_BLOCK_SIZE;
        const int r = (int)(row % CSIMD_R16);
        switch (w->type) {
        case CSIMD_TYPE_Q8R16: csimd_q8r16_row_dequantize(group, nb, r, out); break;
        case CSIMD_TYPE_Q4R16: csimd_q4r16_row_dequantize(group, nb, r, out); break;
        case CSIMD_TYPE_Q4NR16: csimd_q4nr16_row_dequantize(group, nb, r, out); break;
        default: csimd_q3nr16_row_dequantize(group, nb, r, out); break;
        }
        return 0;
    }
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
        if (w->cols % CSIMD_BLOCK_SIZE) return -1;
        csimd_q8_dequantize_ref((const csimd_block_q8 *)p, w->cols, out);
        return 0;
    case CSIMD_TYPE_Q4:
        if (w->cols % CSIMD_BLOCK_SIZE) return -1;
        csimd_q4_dequantize_ref((const csimd_block_q4 *)p, w->cols, out);
        return 0;
    default:
        return -1;
    }
}

float csimd_dot_f32_ref(const float *w, const float *x, int64_t n) {
    float acc = 0.0f;
    for (int64_t i = 0; i < n; i++) acc += w[i] * x[i];
    return acc;
}

float csimd_dot_f16_ref(const uint16_t *w, const float *x, int64_t n) {
    float acc = 0.0f;
    for (int64_t i = 0; i < n; i++) acc += f16_to_f32(w[i]) * x[i];
    return acc;
}

float csimd_dot_bf16_ref(const uint16_t *w, const float *x, int64_t n) {
    float acc = 0.0f;
    for (int64_t i = 0; i < n; i++) acc += bf16_to_f32(w[i]) * x[i];
    return acc;
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

// The 4 x 4 tile contract (csimd_tile_q_fn) on the reference dots: the twins of the paths' tile_q8 / tile_q4.
void csimd_tile_q8_ref(const void *w, int64_t w_stride, int nr, const csimd_block_q8a *a, int64_t a_stride, int nt,
                       int64_t nb, float *y, int64_t y_stride) {
    for (int t = 0; t < nt; t++)
        for (int r = 0; r < nr; r++)
            y[t * y_stride + r] = csimd_dot_q8_q8a_ref((const csimd_block_q8 *)((const char *)w + r * w_stride),
                                                       a + t * a_stride, nb);
}

void csimd_tile_q4_ref(const void *w, int64_t w_stride, int nr, const csimd_block_q8a *a, int64_t a_stride, int nt,
                       int64_t nb, float *y, int64_t y_stride) {
    for (int t = 0; t < nt; t++)
        for (int r = 0; r < nr; r++)
            y[t * y_stride + r] = csimd_dot_q4_q8a_ref((const csimd_block_q4 *)((const char *)w + r * w_stride),
                                                       a + t * a_stride, nb);
}

int32_t csimd_matrix_multiply_ref(const csimd_matrix *w, const float *x, int64_t n_tokens,
                                  const float *bias, float *y) {
    const int64_t rows = w->rows, cols = w->cols;
    if (csimd_r16_tile_bytes(w->type)) {
        if (cols % CSIMD_BLOCK_SIZE) return -1;
        const int64_t nb = cols / CSIMD_BLOCK_SIZE;
        csimd_block_q8a *qa = malloc((size_t)(n_tokens * nb + 1) * sizeof(csimd_block_q8a));
        float *tmp = malloc((size_t)CSIMD_R16 * sizeof(float));
        if (!qa || !tmp) { free(qa); free(tmp); return -1; }
        for (int64_t t = 0; t < n_tokens; t++) csimd_q8a_quantize_ref(x + t * cols, cols, qa + t * nb);
        for (int64_t g = 0; g * CSIMD_R16 < rows; g++) {
            const int nr = (int)(rows - g * CSIMD_R16 < CSIMD_R16 ? rows - g * CSIMD_R16 : CSIMD_R16);
            for (int64_t t = 0; t < n_tokens; t++) {
                csimd_r16_tile_ref(w->type, (const uint8_t *)w->data + g * w->row_bytes, nb, nr, qa + t * nb, nb, 1, tmp, 1);
                for (int r = 0; r < nr; r++) y[t * rows + g * CSIMD_R16 + r] = tmp[r] + (bias ? bias[g * CSIMD_R16 + r] : 0.0f);
            }
        }
        free(qa);
        free(tmp);
        return 0;
    }
    if (w->type == CSIMD_TYPE_Q8 || w->type == CSIMD_TYPE_Q4) {
        if (cols % CSIMD_BLOCK_SIZE) return -1;
        const int64_t nb = cols / CSIMD_BLOCK_SIZE;
        csimd_block_q8a *qa = malloc((size_t)(n_tokens * nb + 1) * sizeof(csimd_block_q8a));
        if (!qa) return -1;
        for (int64_t t = 0; t < n_tokens; t++) csimd_q8a_quantize_ref(x + t * cols, cols, qa + t * nb);
        for (int64_t r = 0; r < rows; r++) {
            const void *p = (const uint8_t *)w->data + r * w->row_bytes;
            const float b = bias ? bias[r] : 0.0f;
            for (int64_t t = 0; t < n_tokens; t++) {
                const float d = w->type == CSIMD_TYPE_Q8 ? csimd_dot_q8_q8a_ref(p, qa + t * nb, nb)
                                                         : csimd_dot_q4_q8a_ref(p, qa + t * nb, nb);
                y[t * rows + r] = d + b;
            }
        }
        free(qa);
        return 0;
    }
    if (w->type != CSIMD_TYPE_F32 && w->type != CSIMD_TYPE_BF16 && w->type != CSIMD_TYPE_F16) return -1;
    for (int64_t r = 0; r < rows; r++) {
        const float b = bias ? bias[r] : 0.0f;
        for (int64_t t = 0; t < n_tokens; t++) {
            y[t * rows + r] = dot_row(w, r, x + t * cols) + b;
        }
    }
    return 0;
}
