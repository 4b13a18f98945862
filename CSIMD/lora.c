// csimd_lora_apply / csimd_lora_apply_groups: low-rank deltas beside a matrix product, on the path's
// LoRA kernels.
//
// Threads: one parallel region for every group of rows (a serving step's slots on different adapters
// share it), two static loops with the implicit barrier between them. The down projection splits
// (group, block of ITEM_TOKENS tokens, block of ITEM_RANKS rank rows) items: rank dots of `cols`
// each, A small enough to stay in L2. The up projection splits (group, output chunk, token block)
// items chunk-major, so each thread walks one chunk of bt (rank x UP_CHUNK values, a few KB: L1)
// across the tokens of a prompt pass instead of streaming all of bt once per token. Inside an item
// the multi-token kernels widen each weight vector once for several tokens; a token's arithmetic is
// the same in any block and whichever groups share the call, so a row's result does not depend on
// the batch.
#include "csimd_kernels.h"
#include <omp.h>

/// Outputs per up-projection work item: a multiple of 32 (whole q8 blocks) and of every vector width.
#define UP_CHUNK 128
/// Tokens per work item: the multi-token kernels share each weight vector's widening among them.
#define ITEM_TOKENS 24
/// Rank rows per down-projection work item: the kernels share each x load among them.
#define ITEM_RANKS 4
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

csimd_lora_kernels csimd_lora_kernels_of(const csimd_kernel_table *k) {
    return (csimd_lora_kernels){
        .dot_f16 = k->dot_f16, .dot_f32 = k->dot_f32,
        .down_q8 = k->lora_down_q8 ? k->lora_down_q8 : csimd_lora_down_q8_ref,
        .up_f32 = k->lora_up_f32 ? k->lora_up_f32 : csimd_lora_up_f32_ref,
        .up_f16 = k->lora_up_f16 ? k->lora_up_f16 : csimd_lora_up_f16_ref,
        .up_q8 = k->lora_up_q8 ? k->lora_up_q8 : csimd_lora_up_q8_ref,
        .down_f32_tokens = k->lora_down_f32_tokens, .down_f16_tokens = k->lora_down_f16_tokens,
        .down_q8_tokens = k->lora_down_q8_tokens, .up_f32_tokens = k->lora_up_f32_tokens,
        .up_f16_tokens = k->lora_up_f16_tokens, .up_q8_tokens = k->lora_up_q8_tokens,
    };
}

/// out[t * rank + j] = A row r + j . x_t for j < n_rows and n tokens: the kernel over token blocks,
/// or the single-token one per row and token (q8's equal bit for bit: that one decodes faster).
static void down_rows(const csimd_lora_kernels *k, const csimd_lora *m, int64_t r, int64_t n_rows, const float *x, int64_t n,
                      float *out) {
    const int64_t cols = m->cols, rank = m->rank;
    if (m->type == CSIMD_TYPE_Q8) {
        const csimd_block_q8 *a = (const csimd_block_q8 *)m->a + r * (cols / CSIMD_BLOCK_SIZE);
        if (k->down_q8_tokens && n > 1) k->down_q8_tokens(a, n_rows, cols, x, n, out, rank);
        else for (int64_t j = 0; j < n_rows; j++) for (int64_t t = 0; t < n; t++)
            out[t * rank + j] = k->down_q8(a + j * (cols / CSIMD_BLOCK_SIZE), x + t * cols, cols / CSIMD_BLOCK_SIZE);
    } else if (m->type == CSIMD_TYPE_F32) {
        const float *a = (const float *)m->a + r * cols;
        if (k->down_f32_tokens) k->down_f32_tokens(a, n_rows, cols, x, n, out, rank);
        else for (int64_t j = 0; j < n_rows; j++) for (int64_t t = 0; t < n; t++)
            out[t * rank + j] = k->dot_f32(a + j * cols, x + t * cols, cols);
    } else {
        const uint16_t *a = (const uint16_t *)m->a + r * cols;
        if (k->down_f16_tokens) k->down_f16_tokens(a, n_rows, cols, x, n, out, rank);
        else for (int64_t j = 0; j < n_rows; j++) for (int64_t t = 0; t < n; t++)
            out[t * rank + j] = k->dot_f16(a + j * cols, x + t * cols, cols);
    }
}

/// Outputs [o, o + count) of n tokens: h their down results (rank apart), y their rows (m->rows
/// apart). One token takes the single-token kernel, which the multi-token one equals bit for bit,
/// measured a few percent faster in decoding.
static void up_rows(const csimd_lora_kernels *k, const csimd_lora *m, int64_t o, int64_t count, const float *h, int64_t n, float s,
                    float *y) {
    const int64_t rank = m->rank, rows = m->rows;
    if (m->type == CSIMD_TYPE_Q8) {
        const csimd_block_q8 *bt = (const csimd_block_q8 *)m->bt + o / CSIMD_BLOCK_SIZE;
        const int64_t stride = rows / CSIMD_BLOCK_SIZE, nb = count / CSIMD_BLOCK_SIZE;
        if (k->up_q8_tokens && n > 1) k->up_q8_tokens(bt, rank, stride, h, n, s, y + o, rows, nb);
        else for (int64_t t = 0; t < n; t++) k->up_q8(bt, rank, stride, h + t * rank, s, y + t * rows + o, nb);
    } else if (m->type == CSIMD_TYPE_F32) {
        const float *bt = (const float *)m->bt + o;
        if (k->up_f32_tokens && n > 1) k->up_f32_tokens(bt, rank, rows, h, n, s, y + o, rows, count);
        else for (int64_t t = 0; t < n; t++) k->up_f32(bt, rank, rows, h + t * rank, s, y + t * rows + o, count);
    } else {
        const uint16_t *bt = (const uint16_t *)m->bt + o;
        if (k->up_f16_tokens && n > 1) k->up_f16_tokens(bt, rank, rows, h, n, s, y + o, rows, count);
        else for (int64_t t = 0; t < n; t++) k->up_f16(bt, rank, rows, h + t * rank, s, y + t * rows + o, count);
    }
}

static int64_t token_blocks(int64_t n) { return (n + ITEM_TOKENS - 1) / ITEM_TOKENS; }
/// Rank rows per down item of a group of n tokens. One q8 row per item when decoding: measured
/// faster there (tools/bench/csimd/run.sh lora), and a row's arithmetic is the same either way.
static int64_t item_ranks(const csimd_lora *m, int64_t n) { return m->type == CSIMD_TYPE_Q8 && n == 1 ? 1 : ITEM_RANKS; }
static int64_t rank_blocks(const csimd_lora *m, int64_t n) { return (m->rank + item_ranks(m, n) - 1) / item_ranks(m, n); }

/// Where each group's items start in a flat loop over all groups' down (or up) items.
typedef struct {
    int64_t down_first[MAX_GROUPS], up_first[MAX_GROUPS], downs, ups, work;
} item_plan;

static item_plan plan_of(const csimd_lora_group *groups, int64_t n_groups) {
    item_plan p = {.downs = 0, .ups = 0, .work = 0};
    for (int64_t g = 0; g < n_groups; g++) {
        const csimd_lora *m = groups[g].m;
        const int64_t n = groups[g].n_tokens > 0 ? groups[g].n_tokens : 0;
        p.down_first[g] = p.downs;
        p.up_first[g] = p.ups;
        p.downs += token_blocks(n) * rank_blocks(m, n);
        p.ups += token_blocks(n) * chunks_of(m);
        p.work += n * m->rank * (m->rows + m->cols);
    }
    return p;
}

/// Down items: (token block, block of rank rows), token-block-major, so a thread's consecutive items
/// share the block's x. Called inside a parallel region (or alone on one thread).
static void down_items(const csimd_lora_kernels *k, const csimd_lora_group *groups, int64_t n_groups, const item_plan *p) {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < p->downs; i++) {
        const int64_t g = group_of(p->down_first, n_groups, i), j = i - p->down_first[g];
        const csimd_lora *m = groups[g].m;
        const int64_t tokens = groups[g].n_tokens, per_item = item_ranks(m, tokens), rb = rank_blocks(m, tokens);
        const int64_t t0 = j / rb * ITEM_TOKENS, r = j % rb * per_item;
        const int64_t n = tokens - t0 < ITEM_TOKENS ? tokens - t0 : ITEM_TOKENS;
        const int64_t n_rows = m->rank - r < per_item ? m->rank - r : per_item;
        down_rows(k, m, r, n_rows, groups[g].x + t0 * m->cols, n, groups[g].scratch + t0 * m->rank + r);
    }
}

/// Up items: (output chunk, token block), chunk-major.
static void up_items(const csimd_lora_kernels *k, const csimd_lora_group *groups, int64_t n_groups, const item_plan *p) {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < p->ups; i++) {
        const int64_t g = group_of(p->up_first, n_groups, i), j = i - p->up_first[g];
        const csimd_lora *m = groups[g].m;
        const int64_t blocks = token_blocks(groups[g].n_tokens);
        const int64_t c = j / blocks, t0 = (j % blocks) * ITEM_TOKENS, o = c * UP_CHUNK;
        const int64_t count = m->rows - o < UP_CHUNK ? m->rows - o : UP_CHUNK;
        const int64_t n = groups[g].n_tokens - t0 < ITEM_TOKENS ? groups[g].n_tokens - t0 : ITEM_TOKENS;
        up_rows(k, m, o, count, groups[g].scratch + t0 * m->rank, n, groups[g].scale, groups[g].y + t0 * m->rows);
    }
}

/// Below a few thousand multiply-adds in all, waking the team costs more than it saves.
static int worth_a_team(const item_plan *p, int team) { return team > 1 && p->work >= 16384; }

/// Every group's down projections, then (with_up) their up projections, in one parallel region.
static void run_groups(const csimd_lora_group *groups, int64_t n_groups, int32_t n_threads, int with_up) {
    const csimd_lora_kernels k = csimd_lora_kernels_of(csimd_kernels_current());
    const item_plan p = plan_of(groups, n_groups);
    if (p.downs == 0) return;
    const int team = csimd_team(n_threads);
#pragma omp parallel if (worth_a_team(&p, team)) num_threads(team)
    {
        down_items(&k, groups, n_groups, &p);
        if (with_up) up_items(&k, groups, n_groups, &p);  // after down_items' implicit barrier
    }
}

static int32_t check_groups(const csimd_lora_group *groups, int64_t n_groups) {
    if (n_groups < 0 || (n_groups > 0 && !groups)) return -1;
    for (int64_t g = 0; g < n_groups; g++)
        if (!groups[g].m || !valid(groups[g].m)) return -1;
    return 0;
}

int32_t csimd_lora_down_groups(const csimd_lora_group *groups, int64_t n_groups, int32_t n_threads) {
    if (check_groups(groups, n_groups) || n_groups > MAX_GROUPS) return -1;
    run_groups(groups, n_groups, n_threads, 0);
    return 0;
}

void csimd_lora_up_slice(const csimd_lora_kernels *k, const csimd_lora_group *g, int64_t o, int64_t count, int64_t t0,
                         int64_t n) {
    up_rows(k, g->m, o, count, g->scratch + t0 * g->m->rank, n, g->scale, g->y + t0 * g->m->rows);
}

int32_t csimd_lora_apply_groups(const csimd_lora_group *groups, int64_t n_groups, int32_t n_threads) {
    if (check_groups(groups, n_groups)) return -1;
    for (int64_t g = 0; g < n_groups; g += MAX_GROUPS)
        run_groups(groups + g, n_groups - g < MAX_GROUPS ? n_groups - g : MAX_GROUPS, n_threads, 1);
    return 0;
}

int32_t csimd_lora_apply(const csimd_lora *m, const float *x, int64_t n_tokens, float scale, float *scratch, float *y,
                         int32_t n_threads) {
    const csimd_lora_group g = {.m = m, .x = x, .y = y, .scratch = scratch, .n_tokens = n_tokens, .scale = scale};
    return csimd_lora_apply_groups(&g, 1, n_threads);
}
