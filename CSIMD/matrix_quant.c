// csimd_matrix_multiply: the fast matrix product for every weight type, on the dispatched kernels.
//
// Q8/Q4: the activations are quantized to Q8A once per call into a grow-only scratch owned by the
// calling thread (a pthread key frees it at thread exit), so steady state allocates nothing and
// concurrent calls from different threads do not share buffers. Then OpenMP over output rows:
// each thread gets a contiguous, equal share of 4-row groups (static: libomp 14 lacks the dynamic
// schedule's __kmpc_dispatch_deinit). Inside a thread, tokens are cut into chunks whose Q8A rows
// fit in L2 and every (4 rows x 4 tokens) tile loads each weight block once for 4 tokens.
#include "csimd_kernels.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

// ---- Per-thread grow-only scratch ----
typedef struct {
    void *p;
    size_t cap;
} scratch_buf;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *v) {
    scratch_buf *s = v;
    if (s) free(s->p);
    free(s);
}

static void scratch_init(void) { (void)pthread_key_create(&scratch_key, scratch_free); }

static void *scratch_get(size_t bytes) {
    pthread_once(&scratch_once, scratch_init);
    scratch_buf *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return NULL;
        if (pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->cap < bytes) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < bytes) cap *= 2;
        void *p = NULL;
        if (posix_memalign(&p, 64, cap) != 0) return NULL;
        free(s->p);
        s->p = p;
        s->cap = cap;
    }
    return s->p;
}

// Below this many multiply-adds a call stays on the calling thread (fork/join costs a few us).
#define PAR_MIN_MACS (1 << 18)

/// The team for a product of this size: the caller's count, or the calling thread alone when
/// the product is too small to pay for a fork/join.
static int team_for(int64_t macs, int32_t n_threads) { return macs >= PAR_MIN_MACS ? csimd_team(n_threads) : 1; }

/// The activations (n_tokens, cols) as Q8A rows of cols / 32 blocks, in this thread's scratch;
/// NULL when out of memory.
static const csimd_block_q8a *quantize_activations(const csimd_kernel_table *k, const float *x, int64_t n_tokens,
                                                   int64_t cols, int team) {
    const int64_t nb = cols / CSIMD_BLOCK_SIZE;
    csimd_block_q8a *qa = scratch_get((size_t)(n_tokens * nb) * sizeof(csimd_block_q8a));
    if (!qa) return NULL;
#pragma omp parallel for schedule(static) if (team > 1 && n_tokens >= 4) num_threads(team)
    for (int64_t t = 0; t < n_tokens; t++) k->q8a_quantize(x + t * cols, cols, qa + t * nb);
    return qa;
}

static void tile_fallback(const csimd_kernel_table *k, int is_q8, const void *w, int64_t ws, int nr,
                          const csimd_block_q8a *a, int64_t as, int nt, int64_t nb, float *y, int64_t ys) {
    for (int r = 0; r < nr; r++) {
        const char *wr = (const char *)w + r * ws;
        for (int t = 0; t < nt; t++)
            y[t * ys + r] = is_q8 ? k->dot_q8((const csimd_block_q8 *)wr, a + t * as, nb)
                                  : k->dot_q4((const csimd_block_q4 *)wr, a + t * as, nb);
    }
}

/// y[t * y_stride + r] += bias[r] for the nt x nr block a tile just wrote.
static inline void add_bias(float *y, int64_t y_stride, int nt, int nr, const float *bias) {
    for (int t = 0; t < nt; t++)
        for (int r = 0; r < nr; r++) y[t * y_stride + r] += bias[r];
}

static int32_t multiply_q(const csimd_matrix *w, const float *x, int64_t n_tokens, const float *bias, float *y,
                            int32_t n_threads) {
    const csimd_kernel_table *k = csimd_kernels_current();
    const int64_t rows = w->rows, cols = w->cols;
    if (cols % CSIMD_BLOCK_SIZE) return -1;
    const int64_t nb = cols / CSIMD_BLOCK_SIZE;
    const int is_q8 = w->type == CSIMD_TYPE_Q8;
    if (w->row_bytes < nb * (int64_t)(is_q8 ? sizeof(csimd_block_q8) : sizeof(csimd_block_q4))) return -1;
    if (rows <= 0 || n_tokens <= 0) return 0;

    const int team = team_for(rows * cols * n_tokens, n_threads);
    const csimd_block_q8a *qa = quantize_activations(k, x, n_tokens, cols, team);
    if (!qa) return -1;

    csimd_tile_q_fn tile = is_q8 ? k->tile_q8 : k->tile_q4;

    const int64_t groups = (rows + CSIMD_TILE_R - 1) / CSIMD_TILE_R;
    // Tokens per chunk: Q8A rows of a chunk ~ 384 KiB (L2), a multiple of the tile height.
    int64_t chunk = (384 * 1024) / (nb * (int64_t)sizeof(csimd_block_q8a));
    chunk = chunk < CSIMD_TILE_T ? CSIMD_TILE_T : chunk - chunk % CSIMD_TILE_T;
    const char *wbase = (const char *)w->data;

#pragma omp parallel if (team > 1) num_threads(team)
    {
#ifdef _OPENMP
        const int64_t nth = omp_get_num_threads(), tid = omp_get_thread_num();
#else
        const int64_t nth = 1, tid = 0;
#endif
        const int64_t g0 = groups * tid / nth, g1 = groups * (tid + 1) / nth;
        for (int64_t c0 = 0; c0 < n_tokens; c0 += chunk) {
            const int64_t c1 = c0 + chunk < n_tokens ? c0 + chunk : n_tokens;
            for (int64_t g = g0; g < g1; g++) {
                const int64_t r0 = g * CSIMD_TILE_R;
                const int nr = (int)(rows - r0 < CSIMD_TILE_R ? rows - r0 : CSIMD_TILE_R);
                const void *wr = wbase + r0 * w->row_bytes;
                for (int64_t t0 = c0; t0 < c1; t0 += CSIMD_TILE_T) {
                    const int nt = (int)(c1 - t0 < CSIMD_TILE_T ? c1 - t0 : CSIMD_TILE_T);
                    float *yt = y + t0 * rows + r0;
                    if (tile) tile(wr, w->row_bytes, nr, qa + t0 * nb, nb, nt, nb, yt, rows);
                    else tile_fallback(k, is_q8, wr, w->row_bytes, nr, qa + t0 * nb, nb, nt, nb, yt, rows);
                    if (bias) add_bias(yt, rows, nt, nr, bias + r0);
                }
            }
        }
    }
    return 0;
}

/// LoRA groups whose up projections run inside an R16 product: each group's first token row in y.
typedef struct {
    const csimd_lora_group *groups;
    int64_t n_groups;
    int64_t first[64];
    csimd_lora_kernels kernels;
} fused_lora;

/// R16 groups ahead whose slice of B a thread prefetches: its rank rows are as many separate streams,
/// each too short per tile for the hardware prefetcher to follow.
#define LORA_PREFETCH_GROUPS 6

/// Adds every fused group's delta to outputs [r0, r0 + nr) of tokens [c0, c0 + nt), just written.
static void add_fused_lora(const fused_lora *f, int64_t r0, int nr, int64_t c0, int nt) {
    for (int64_t j = 0; j < f->n_groups; j++) {
        const int64_t a = f->first[j] > c0 ? f->first[j] : c0;
        const int64_t end = f->first[j] + f->groups[j].n_tokens, b = end < c0 + nt ? end : c0 + nt;
        if (a >= b) continue;
        const csimd_lora *m = f->groups[j].m;
        const int64_t ahead = r0 + LORA_PREFETCH_GROUPS * CSIMD_R16;
        if (ahead < m->rows) {
            const size_t elem = m->type == CSIMD_TYPE_F16 ? 2 : 4;
            for (int64_t k = 0; k < m->rank; k++) __builtin_prefetch((const char *)m->bt + (k * m->rows + ahead) * elem, 0, 2);
        }
        csimd_lora_up_slice(&f->kernels, &f->groups[j], r0, nr, a - f->first[j], b - a);
    }
}

/// R16 layouts: OpenMP over groups of 16 rows; tokens in L2-sized chunks, each group's tiles
/// reused for every token of the chunk. With `lora`, each tile's adapter deltas are added while the
/// tile is still in cache, interleaving the adapters' B reads with the weights' stream.
static int32_t multiply_r16(const csimd_matrix *w, const float *x, int64_t n_tokens, const float *bias, float *y,
                            int32_t n_threads, const fused_lora *lora) {
    const csimd_kernel_table *k = csimd_kernels_current();
    const int64_t rows = w->rows, cols = w->cols;
    if (cols % CSIMD_BLOCK_SIZE) return -1;
    const int64_t nb = cols / CSIMD_BLOCK_SIZE;
    if (w->row_bytes < csimd_type_row_bytes(w->type, cols)) return -1;
    if (rows <= 0 || n_tokens <= 0) return 0;

    const int team = team_for(rows * cols * n_tokens, n_threads);
    const csimd_block_q8a *qa = quantize_activations(k, x, n_tokens, cols, team);
    if (!qa) return -1;

    const csimd_tile_r16_fn tile = csimd_r16_tile_fn(k, w->type);
    const int64_t groups = (rows + CSIMD_R16 - 1) / CSIMD_R16;
    int64_t chunk = (512 * 1024) / (nb * (int64_t)sizeof(csimd_block_q8a));
    chunk = chunk < 4 ? 4 : chunk - chunk % 4;
    const uint8_t *wbase = (const uint8_t *)w->data;

#pragma omp parallel if (team > 1) num_threads(team)
    {
#ifdef _OPENMP
        const int64_t nth = omp_get_num_threads(), tid = omp_get_thread_num();
#else
        const int64_t nth = 1, tid = 0;
#endif
        const int64_t g0 = groups * tid / nth, g1 = groups * (tid + 1) / nth;
        for (int64_t c0 = 0; c0 < n_tokens; c0 += chunk) {
            const int nt = (int)(c0 + chunk < n_tokens ? chunk : n_tokens - c0);
            for (int64_t g = g0; g < g1; g++) {
                const int64_t r0 = g * CSIMD_R16;
                const int nr = (int)(rows - r0 < CSIMD_R16 ? rows - r0 : CSIMD_R16);
                float *yt = y + c0 * rows + r0;
                if (tile) tile(wbase + g * w->row_bytes, nb, nr, qa + c0 * nb, nb, nt, yt, rows);
                else csimd_r16_tile_ref(w->type, wbase + g * w->row_bytes, nb, nr, qa + c0 * nb, nb, nt, yt, rows);
                if (bias) add_bias(yt, rows, nt, nr, bias + r0);
                if (lora) add_fused_lora(lora, r0, nr, c0, nt);
            }
        }
    }
    return 0;
}

static int32_t multiply_f(const csimd_matrix *w, const float *x, int64_t n_tokens, const float *bias, float *y,
                            int32_t n_threads) {
    const csimd_kernel_table *k = csimd_kernels_current();
    const int64_t rows = w->rows, cols = w->cols;
    const int type = w->type;
    const int team = team_for(rows * cols * n_tokens, n_threads);
#pragma omp parallel for schedule(static) if (team > 1) num_threads(team)
    for (int64_t r = 0; r < rows; r++) {
        const void *p = (const char *)w->data + r * w->row_bytes;
        const float b = bias ? bias[r] : 0.0f;
        for (int64_t t = 0; t < n_tokens; t++) {
            const float *xt = x + t * cols;
            float d;
            if (type == CSIMD_TYPE_F32) d = k->dot_f32((const float *)p, xt, cols);
            else if (type == CSIMD_TYPE_F16) d = k->dot_f16((const uint16_t *)p, xt, cols);
            else d = k->dot_bf16((const uint16_t *)p, xt, cols);
            y[t * rows + r] = d + b;
        }
    }
    return 0;
}

int32_t csimd_matrix_multiply(const csimd_matrix *w, const float *x, int64_t n_tokens, const float *bias, float *y,
                            int32_t n_threads) {
    switch (w->type) {
    case CSIMD_TYPE_F32:
    case CSIMD_TYPE_F16:
    case CSIMD_TYPE_BF16:
        return multiply_f(w, x, n_tokens, bias, y, n_threads);
    case CSIMD_TYPE_Q8:
    case CSIMD_TYPE_Q4:
        return multiply_q(w, x, n_tokens, bias, y, n_threads);
    case CSIMD_TYPE_Q8R16:
    case CSIMD_TYPE_Q4R16:
    case CSIMD_TYPE_Q4NR16:
    case CSIMD_TYPE_Q3NR16:
        return multiply_r16(w, x, n_tokens, bias, y, n_threads, NULL);
    default:
        return -1;
    }
}

static int is_r16(int32_t type) {
    return type == CSIMD_TYPE_Q8R16 || type == CSIMD_TYPE_Q4R16 || type == CSIMD_TYPE_Q4NR16 || type == CSIMD_TYPE_Q3NR16;
}

/// Tokens a group needs for its deltas to run inside the product. Decoding steps (one token per
/// group) measured slower fused: each 16-row tile then waits on its slice of every adapter's B, where
/// a pass of their own streams B at full speed (BENCHMARKS.md "Run-time LoRA adapters").
#define FUSE_MIN_TOKENS 8

int32_t csimd_matrix_multiply_lora(const csimd_matrix *w, const float *x, int64_t n_tokens, const float *bias, float *y,
                                   const csimd_lora_group *groups, int64_t n_groups, int32_t n_threads) {
    if (n_groups < 0 || (n_groups > 0 && !groups)) return -1;
    // Fused: R16 weights, f16 / f32 adapters (a q8 block spans 32 outputs, two R16 groups) of this
    // matrix's shape, rows inside this product's rows at whole-row offsets, prompt-sized. The rest
    // take a pass of their own after the product. Either way a row's arithmetic is the same.
    csimd_lora_group fused[64], rest[64];
    fused_lora f = {.groups = fused, .n_groups = 0, .kernels = csimd_lora_kernels_of(csimd_kernels_current())};
    int64_t n_rest = 0;
    for (int64_t j = 0; j < n_groups && n_groups <= 64; j++) {
        const csimd_lora_group *g = &groups[j];
        const csimd_lora *m = g->m;
        const ptrdiff_t dy = g->y - y, dx = g->x - x;
        const int fuse = is_r16(w->type) && m && (m->type == CSIMD_TYPE_F16 || m->type == CSIMD_TYPE_F32) &&
                         m->rows == w->rows && m->cols == w->cols && g->n_tokens >= FUSE_MIN_TOKENS && w->rows > 0 &&
                         dy >= 0 && dy % w->rows == 0 && dy / w->rows + g->n_tokens <= n_tokens &&
                         dx == dy / w->rows * w->cols;
        if (fuse) f.first[f.n_groups] = dy / w->rows, fused[f.n_groups++] = *g;
        else rest[n_rest++] = *g;
    }
    if (f.n_groups == 0) {  // nothing to fuse (or more groups than one call sorts): the two calls
        const int32_t status = csimd_matrix_multiply(w, x, n_tokens, bias, y, n_threads);
        return status ? status : csimd_lora_apply_groups(groups, n_groups, n_threads);
    }
    if (csimd_lora_down_groups(fused, f.n_groups, n_threads)) return -1;
    const int32_t status = multiply_r16(w, x, n_tokens, bias, y, n_threads, &f);
    return status ? status : csimd_lora_apply_groups(rest, n_rest, n_threads);
}
