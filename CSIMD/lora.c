// csimd_lora_apply / csimd_lora_apply_groups: low-rank deltas beside a matrix product, on the path's
// LoRA kernels.
//
// Threads: one parallel region for every group of rows (a serving step's slots on different adapters
// share it), two static loops with the implicit barrier between them. The down projection splits
// (group, token, rank row) triples: rank dots of `cols` each, A read once per token (small: it stays
// in L2). The up projection splits (group, output chunk, token) triples chunk-major, so each thread
// walks one chunk of bt (rank x UP_CHUNK values, a few KB: L1) across the tokens of a prompt pass
// instead of streaming all of bt once per token. Each row's arithmetic is the same whichever groups
// share the call, so a row's result does not depend on the batch.
#include "csimd_kernels.h"
#include <omp.h>

/// Outputs per up-projection work item: a multiple of 32 (whole q8 blocks) and of every vector width.
#define UP_CHUNK 128
/// Groups one call takes in one parallel region; more are applied MAX_GROUPS at a time.
#define MAX_GROUPS 64

static int valid(const csimd_lora *m) {
    const int q8 = m->type == CSIMD_TYPE_Q8;
    if (m->rank < 1 || m->cols < 1 || m->rows < 1) return 0;
    if (!q8 && m->type != CSIMD_TYPE_F32 && m->type != CSIMD_TYPE_F16) return 0;
    return !q8 || (m->cols % CSIMD_BLOCK_SIZE == 0 && m->rows % CSIMD_BLOCK_SIZE == 0);
}

static int64_t chunks_of(const csimd_lora *m) { return (m->rows + UP_CHUNK - 1) / UP_CHUNK; }

/// The group holding flat item i, given each group's first item (ascending) in `first`.
static int64_t group_of(const int64_t *first, int64_t n_groups, int64_t i) {
    int64_t g = 0;
    while (g + 1 < n_groups && first[g + 1] <= i) g++;
    return g;
}

static int32_t apply_groups(const csimd_lora_group *groups, int64_t n_groups, int32_t n_threads) {
    const csimd_kernel_table *k = csimd_kernels_current();
    float (*dot_f16)(const uint16_t *, const float *, int64_t) = k->dot_f16;
    float (*dot_f32)(const float *, const float *, int64_t) = k->dot_f32;
    csimd_lora_up_f32_fn up_f32 = k->lora_up_f32 ? k->lora_up_f32 : csimd_lora_up_f32_ref;
    csimd_lora_down_q8_fn down_q8 = k->lora_down_q8 ? k->lora_down_q8 : csimd_lora_down_q8_ref;
    csimd_lora_up_f16_fn up_f16 = k->lora_up_f16 ? k->lora_up_f16 : csimd_lora_up_f16_ref;
    csimd_lora_up_q8_fn up_q8 = k->lora_up_q8 ? k->lora_up_q8 : csimd_lora_up_q8_ref;
    // Each group's first down and up item in the flat loops, and the work it holds.
    int64_t down_first[MAX_GROUPS], up_first[MAX_GROUPS], downs = 0, ups = 0, work = 0;
    for (int64_t g = 0; g < n_groups; g++) {
        const csimd_lora *m = groups[g].m;
        const int64_t n = groups[g].n_tokens > 0 ? groups[g].n_tokens : 0;
        down_first[g] = downs;
        up_first[g] = ups;
        downs += n * m->rank;
        ups += n * chunks_of(m);
        work += n * m->rank * (m->rows + m->cols);
    }
    if (downs == 0) return 0;
    const int team = csimd_team(n_threads);
    // Below a few thousand multiply-adds in all, waking the team costs more than it saves.
    const int parallel = team > 1 && work >= 16384;
#pragma omp parallel if (parallel) num_threads(team)
    {
#pragma omp for schedule(static)
        for (int64_t i = 0; i < downs; i++) {
            const int64_t g = group_of(down_first, n_groups, i), j = i - down_first[g];
            const csimd_lora *m = groups[g].m;
            const int64_t rank = m->rank, cols = m->cols, t = j / rank, r = j % rank;
            const float *x = groups[g].x + t * cols;
            groups[g].scratch[j] = m->type == CSIMD_TYPE_Q8 ? down_q8((const csimd_block_q8 *)m->a + r * (cols / CSIMD_BLOCK_SIZE), x, cols / CSIMD_BLOCK_SIZE)
                                 : m->type == CSIMD_TYPE_F32 ? dot_f32((const float *)m->a + r * cols, x, cols)
                                                             : dot_f16((const uint16_t *)m->a + r * cols, x, cols);
        }
#pragma omp for schedule(static)
        for (int64_t i = 0; i < ups; i++) {
            const int64_t g = group_of(up_first, n_groups, i), j = i - up_first[g];
            const csimd_lora *m = groups[g].m;
            const int64_t tokens = groups[g].n_tokens, rank = m->rank, rows = m->rows;
            const int64_t c = j / tokens, t = j % tokens, o = c * UP_CHUNK;
            const int64_t n = rows - o < UP_CHUNK ? rows - o : UP_CHUNK;
            const float *h = groups[g].scratch + t * rank, s = groups[g].scale;
            float *yt = groups[g].y + t * rows + o;
            if (m->type == CSIMD_TYPE_Q8)
                up_q8((const csimd_block_q8 *)m->bt + o / CSIMD_BLOCK_SIZE, rank, rows / CSIMD_BLOCK_SIZE, h, s, yt,
                      n / CSIMD_BLOCK_SIZE);
            else if (m->type == CSIMD_TYPE_F32) up_f32((const float *)m->bt + o, rank, rows, h, s, yt, n);
            else up_f16((const uint16_t *)m->bt + o, rank, rows, h, s, yt, n);
        }
    }
    return 0;
}

int32_t csimd_lora_apply_groups(const csimd_lora_group *groups, int64_t n_groups, int32_t n_threads) {
    if (n_groups < 0 || (n_groups > 0 && !groups)) return -1;
    for (int64_t g = 0; g < n_groups; g++)
        if (!groups[g].m || !valid(groups[g].m)) return -1;
    for (int64_t g = 0; g < n_groups; g += MAX_GROUPS)
        apply_groups(groups + g, n_groups - g < MAX_GROUPS ? n_groups - g : MAX_GROUPS, n_threads);
    return 0;
}

int32_t csimd_lora_apply(const csimd_lora *m, const float *x, int64_t n_tokens, float scale, float *scratch, float *y,
                         int32_t n_threads) {
    const csimd_lora_group g = {.m = m, .x = x, .y = y, .scratch = scratch, .n_tokens = n_tokens, .scale = scale};
    return csimd_lora_apply_groups(&g, 1, n_threads);
}
