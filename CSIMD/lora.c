// csimd_lora_apply: a low-rank delta beside a matrix product, on the path's LoRA kernels.
//
// Threads: one parallel region, two static loops with the implicit barrier between them. The down
// projection splits (token, rank row) pairs: rank dots of `cols` each, A read once per token (small:
// it stays in L2). The up projection splits (output chunk, token) pairs chunk-major, so each thread
// walks one chunk of bt (rank x UP_CHUNK values, a few KB: L1) across the tokens of a prompt pass
// instead of streaming all of bt once per token.
#include "csimd_kernels.h"
#include <omp.h>

/// Outputs per up-projection work item: a multiple of 32 (whole q8 blocks) and of every vector width.
#define UP_CHUNK 128

int32_t csimd_lora_apply(const csimd_lora *m, const float *x, int64_t n_tokens, float scale, float *scratch, float *y,
                         int32_t n_threads) {
    const int q8 = m->type == CSIMD_TYPE_Q8, f32 = m->type == CSIMD_TYPE_F32;
    if (m->rank < 1 || m->cols < 1 || m->rows < 1 || (!q8 && !f32 && m->type != CSIMD_TYPE_F16)) return -1;
    if (q8 && (m->cols % CSIMD_BLOCK_SIZE || m->rows % CSIMD_BLOCK_SIZE)) return -1;
    if (n_tokens <= 0) return 0;
    const csimd_kernel_table *k = csimd_kernels_current();
    float (*dot_f16)(const uint16_t *, const float *, int64_t) = k->dot_f16;
    float (*dot_f32)(const float *, const float *, int64_t) = k->dot_f32;
    csimd_lora_up_f32_fn up_f32 = k->lora_up_f32 ? k->lora_up_f32 : csimd_lora_up_f32_ref;
    csimd_lora_down_q8_fn down_q8 = k->lora_down_q8 ? k->lora_down_q8 : csimd_lora_down_q8_ref;
    csimd_lora_up_f16_fn up_f16 = k->lora_up_f16 ? k->lora_up_f16 : csimd_lora_up_f16_ref;
    csimd_lora_up_q8_fn up_q8 = k->lora_up_q8 ? k->lora_up_q8 : csimd_lora_up_q8_ref;
    const int64_t rank = m->rank, cols = m->cols, rows = m->rows;
    const int64_t cb = cols / CSIMD_BLOCK_SIZE, rb = rows / CSIMD_BLOCK_SIZE;
    const int64_t chunks = (rows + UP_CHUNK - 1) / UP_CHUNK;
    const int team = csimd_team(n_threads);
    // One token's whole delta is ~rank * (rows + cols) multiply-adds: below a few thousand, waking the
    // team costs more than it saves.
    const int parallel = team > 1 && n_tokens * rank * (rows + cols) >= 16384;
#pragma omp parallel if (parallel) num_threads(team)
    {
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n_tokens * rank; i++) {
            const int64_t t = i / rank, r = i % rank;
            scratch[i] = q8 ? down_q8((const csimd_block_q8 *)m->a + r * cb, x + t * cols, cb)
                       : f32 ? dot_f32((const float *)m->a + r * cols, x + t * cols, cols)
                            : dot_f16((const uint16_t *)m->a + r * cols, x + t * cols, cols);
        }
#pragma omp for schedule(static)
        for (int64_t i = 0; i < chunks * n_tokens; i++) {
            const int64_t c = i / n_tokens, t = i % n_tokens, o = c * UP_CHUNK;
            const int64_t n = rows - o < UP_CHUNK ? rows - o : UP_CHUNK;
            float *yt = y + t * rows + o;
            if (q8) up_q8((const csimd_block_q8 *)m->bt + o / CSIMD_BLOCK_SIZE, rank, rb, scratch + t * rank, scale, yt,
                          n / CSIMD_BLOCK_SIZE);
            else if (f32) up_f32((const float *)m->bt + o, rank, rows, scratch + t * rank, scale, yt, n);
            else up_f16((const uint16_t *)m->bt + o, rank, rows, scratch + t * rank, scale, yt, n);
        }
    }
    return 0;
}
