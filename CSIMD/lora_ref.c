// Scalar twins of the LoRA kernels (csimd_kernels.h) and csimd_lora_apply_ref: the reference every
// path's lora_* kernels are tested against. Sequential f32 sums, in the order the comments give.
#include "csimd_kernels.h"

/// sum_b d_b * (sum_j q_bj * x_bj), j ascending inside a block, blocks ascending.
float csimd_lora_down_q8_ref(const csimd_block_q8 *a, const float *x, int64_t nb) {
    float acc = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        float s = 0.0f;
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) s += (float)a[b].qs[j] * x[b * CSIMD_BLOCK_SIZE + j];
        acc += csimd_f16_to_f32(a[b].d) * s;
    }
    return acc;
}

/// Per output: acc = sum_k t[k] * bt[k][o], k ascending; y[o] += s * acc.
void csimd_lora_up_f32_ref(const float *bt, int64_t rank, int64_t stride, const float *t, float s, float *y, int64_t n) {
    for (int64_t o = 0; o < n; o++) {
        float acc = 0.0f;
        for (int64_t k = 0; k < rank; k++) acc += t[k] * bt[k * stride + o];
        y[o] += s * acc;
    }
}

/// As csimd_lora_up_f32_ref, bt IEEE half.
void csimd_lora_up_f16_ref(const uint16_t *bt, int64_t rank, int64_t stride, const float *t, float s, float *y,
                           int64_t n) {
    for (int64_t o = 0; o < n; o++) {
        float acc = 0.0f;
        for (int64_t k = 0; k < rank; k++) acc += t[k] * csimd_f16_to_f32(bt[k * stride + o]);
        y[o] += s * acc;
    }
}

/// Per output: acc = sum_k (t[k] * d_kb) * q_kb[j], k ascending; y[o] += s * acc.
void csimd_lora_up_q8_ref(const csimd_block_q8 *bt, int64_t rank, int64_t stride, const float *t, float s, float *y,
                          int64_t nb) {
    for (int64_t b = 0; b < nb; b++)
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < rank; k++) {
                const csimd_block_q8 *blk = bt + k * stride + b;
                acc += (t[k] * csimd_f16_to_f32(blk->d)) * (float)blk->qs[j];
            }
            y[b * CSIMD_BLOCK_SIZE + j] += s * acc;
        }
}

int32_t csimd_lora_apply_ref(const csimd_lora *m, const float *x, int64_t n_tokens, float scale, float *scratch,
                             float *y) {
    const int q8 = m->type == CSIMD_TYPE_Q8, f32 = m->type == CSIMD_TYPE_F32;
    if (m->rank < 1 || m->cols < 1 || m->rows < 1 || (!q8 && !f32 && m->type != CSIMD_TYPE_F16)) return -1;
    if (q8 && (m->cols % CSIMD_BLOCK_SIZE || m->rows % CSIMD_BLOCK_SIZE)) return -1;
    const int64_t cb = m->cols / CSIMD_BLOCK_SIZE, rb = m->rows / CSIMD_BLOCK_SIZE;
    for (int64_t t = 0; t < n_tokens; t++) {
        float *tk = scratch + t * m->rank;
        for (int64_t k = 0; k < m->rank; k++)
            tk[k] = q8 ? csimd_lora_down_q8_ref((const csimd_block_q8 *)m->a + k * cb, x + t * m->cols, cb)
                  : f32 ? csimd_dot_f32_ref((const float *)m->a + k * m->cols, x + t * m->cols, m->cols)
                       : csimd_dot_f16_ref((const uint16_t *)m->a + k * m->cols, x + t * m->cols, m->cols);
        if (q8) csimd_lora_up_q8_ref(m->bt, m->rank, rb, tk, scale, y + t * m->rows, rb);
        else if (f32) csimd_lora_up_f32_ref(m->bt, m->rank, m->rows, tk, scale, y + t * m->rows, m->rows);
        else csimd_lora_up_f16_ref(m->bt, m->rank, m->rows, tk, scale, y + t * m->rows, m->rows);
    }
    return 0;
}
