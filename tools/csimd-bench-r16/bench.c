// Single-thread throughput of csimd_matrix_multiply per kernel path and weight type, 2560 x 2560
// (Dolly 3B's hidden size), 1 and 64 tokens. Time is CLOCK_THREAD_CPUTIME_ID of the calling thread
// (csimd_threads_set(1), so all the work runs on it). Build and run with run.sh.
#include "csimd.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const int64_t rows = 2560, cols = 2560;
    const double min_seconds = argc > 1 ? atof(argv[1]) : 0.5;
    csimd_threads_set(1);
    float *w = malloc(rows * cols * 4), *x = malloc(64 * cols * 4), *y = malloc(64 * rows * 4);
    srand(1);
    for (int64_t i = 0; i < rows * cols; i++) w[i] = (float)(rand() / 2147483648.0) - 0.5f;
    for (int64_t i = 0; i < 64 * cols; i++) x[i] = (float)(rand() / 2147483648.0) - 0.5f;
    csimd_matrix src = {w, rows, cols, cols * 4, CSIMD_TYPE_F32};
    const int32_t types[] = {CSIMD_TYPE_Q4R16, CSIMD_TYPE_Q8R16, CSIMD_TYPE_Q4, CSIMD_TYPE_Q8};
    const char *type_names[] = {"Q4R16", "Q8R16", "Q4", "Q8"};
    const char *paths[] = {"scalar", "avx2", "avx2-vnni", "avx512-vnni", "neon", "neon-dotprod"};
    printf("%-12s %-6s %8s %8s   (GMAC/s, one thread)\n", "path", "type", "1 tok", "64 tok");
    for (int p = 0; p < 6; p++) {
        if (csimd_kernel_force(paths[p]) != 0) continue;
        for (int ti = 0; ti < 4; ti++) {
            const int32_t type = types[ti];
            const int r16 = type == CSIMD_TYPE_Q4R16 || type == CSIMD_TYPE_Q8R16;
            const int64_t unit = csimd_type_row_bytes(type, cols), units = r16 ? (rows + 15) / 16 : rows;
            void *data = malloc(units * unit);
            if (csimd_rows_convert(&src, NULL, 0, rows, type, data) != 0) return 1;
            csimd_matrix m = {data, rows, cols, unit, type};
            printf("%-12s %-6s", paths[p], type_names[ti]);
            const int64_t toks[] = {1, 64};
            for (int k = 0; k < 2; k++) {
                const double limit = paths[p][0] == 's' ? 0.1 : min_seconds;
                csimd_matrix_multiply(&m, x, toks[k], NULL, y);  // warm up
                int64_t iters = 0;
                const double t0 = now();
                double t1;
                do {
                    csimd_matrix_multiply(&m, x, toks[k], NULL, y);
                    iters++;
                } while ((t1 = now()) - t0 < limit);
                printf(" %8.1f", (double)rows * cols * toks[k] * iters / (t1 - t0) * 1e-9);
            }
            printf("\n");
            fflush(stdout);
            free(data);
        }
    }
    free(w), free(x), free(y);
    return 0;
}
