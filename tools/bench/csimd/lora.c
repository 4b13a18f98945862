// Micro benchmark of csimd_lora_apply_groups in decoding: G adapters of one layer matrix's shape, one
// token each, in one call (a serving step's slots on different adapters), cycling over enough sets of
// adapters that A and B come from memory as they do in a step that reads a whole model. Prints the time
// per call and the GB/s of A and B streamed, for f16 and q8 adapters, on the best kernel path.
// With TOKENS > 1: one group of TOKENS tokens (a prompt pass), A and B warm, and the multiply-adds
// per second instead. WARM=1: four sets only, so A and B come from cache (what the kernels cost
// apart from memory); ROUNDS: calls timed per type (default 30; more for a profiler); DOWN_ONLY=1:
// the down projections alone (csimd_lora_down_groups; its GB/s still counts B). Set these to 1 or
// leave them unset: any value, even an empty one, turns them on.
// Not a test: no assertions.
// Build and run: tools/bench/csimd/run.sh lora [rows cols rank groups tokens]
// (default: dolly-v2-3b's query_key_value, 7680 x 2560, rank 16, 4 groups, 1 token).
#include "csimd.h"
#include "csimd_blocks.h"
#include "csimd_kernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t seed = 12345;
static float rnd(void) {
    seed = seed * 1664525u + 1013904223u;
    return ((seed >> 8) & 0xFFFF) / 65536.0f - 0.5f;
}

// (n_rows, n_cols) of `type` with random values: f16 elements or q8 blocks along the columns.
static void *matrix(int32_t type, int64_t n_rows, int64_t n_cols, int64_t *bytes) {
    if (type == CSIMD_TYPE_F16) {
        uint16_t *m = malloc(n_rows * n_cols * 2);
        for (int64_t i = 0; i < n_rows * n_cols; i++) m[i] = csimd_f32_to_f16(rnd() * 0.02f);
        *bytes = n_rows * n_cols * 2;
        return m;
    }
    const int64_t nb = n_rows * n_cols / CSIMD_BLOCK_SIZE;
    csimd_block_q8 *m = malloc(nb * sizeof *m);
    for (int64_t b = 0; b < nb; b++) {
        m[b].d = csimd_f32_to_f16(0.0002f);
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) m[b].qs[j] = (int8_t)(rnd() * 250);
    }
    *bytes = nb * (int64_t)sizeof *m;
    return m;
}

int main(int argc, char **argv) {
    const int64_t rows = argc > 1 ? atoll(argv[1]) : 7680, cols = argc > 2 ? atoll(argv[2]) : 2560;
    const int64_t rank = argc > 3 ? atoll(argv[3]) : 16;
    const int tokens = argc > 5 ? atoi(argv[5]) : 1;
    const int groups = tokens > 1 ? 1 : argc > 4 ? atoi(argv[4]) : 4;
    const int threads = getenv("OMP_NUM_THREADS") ? atoi(getenv("OMP_NUM_THREADS")) : 2;
    const int down_only = getenv("DOWN_ONLY") != NULL;
    printf("path %s, %lld x %lld, rank %lld, %d groups of %d tokens, %d threads\n", csimd_kernel_name(), (long long)rows,
           (long long)cols, (long long)rank, groups, tokens, threads);
    const int32_t types[] = {CSIMD_TYPE_F16, CSIMD_TYPE_Q8};
    const char *names[] = {"f16", "q8"};
    const int64_t n = (int64_t)groups * tokens;
    float *x = malloc(n * cols * sizeof *x), *y = calloc(n * rows, sizeof *y), *scratch = malloc(n * rank * sizeof *scratch);
    for (int64_t i = 0; i < n * cols; i++) x[i] = rnd();
    for (int ti = 0; ti < 2; ti++) {
        // Enough adapter sets to exceed any cache: at least 256 MB in all.
        int64_t a_bytes, b_bytes;
        free(matrix(types[ti], rank, cols, &a_bytes));
        free(matrix(types[ti], rank, rows, &b_bytes));
        const int64_t per_set = groups * (a_bytes + b_bytes);
        const int sets = tokens > 1 || getenv("WARM") ? 4 : (int)((256ll << 20) / per_set) + 1;
        csimd_lora *deltas = malloc(sets * groups * sizeof *deltas);
        for (int i = 0; i < sets * groups; i++)
            deltas[i] = (csimd_lora){.a = matrix(types[ti], rank, cols, &a_bytes), .bt = matrix(types[ti], rank, rows, &b_bytes),
                                     .rank = rank, .cols = cols, .rows = rows, .type = types[ti]};
        csimd_lora_group *g = malloc(groups * sizeof *g);
        double best = 1e9;
        const int rounds = getenv("ROUNDS") ? atoi(getenv("ROUNDS")) : 30;
        for (int round = 0; round < rounds; round++) {
            const double t0 = now();
            for (int s = 0; s < sets; s++) {
                for (int k = 0; k < groups; k++)
                    g[k] = (csimd_lora_group){.m = &deltas[s * groups + k], .x = x + k * cols, .y = y + k * rows,
                                              .scratch = scratch + k * rank, .n_tokens = tokens, .scale = 0.5f};
                const int32_t status = down_only ? csimd_lora_down_groups(g, groups, threads) : csimd_lora_apply_groups(g, groups, threads);
                if (status != 0) { fprintf(stderr, "apply failed\n"); return 1; }
            }
            const double per_call = (now() - t0) / sets;
            if (per_call < best) best = per_call;
        }
        if (tokens > 1)
            printf("%-4s %8.1f us per call, %6.1f G multiply-adds/s (down %.0f%% of them)\n", names[ti], best * 1e6,
                   (double)tokens * rank * (rows + cols) / best / 1e9, 100.0 * cols / (rows + cols));
        else
            printf("%-4s %8.1f us per call, %6.1f GB/s of A and B (%.2f MB per call, %d sets)\n", names[ti], best * 1e6,
                   per_set / best / 1e9, per_set / 1e6, sets);
        for (int i = 0; i < sets * groups; i++) { free((void *)deltas[i].a); free((void *)deltas[i].bt); }
        free(deltas);
        free(g);
    }
    return 0;
}
