// Micro benchmark of csimd_matrix_multiply on Q4/Q8 weights: a (rows x cols) matvec (GB/s of weights
// streamed) and an n-token matmul (tokens/s for this one matrix and GMAC/s). Not a test: no assertions.
// Usage: bench [rows cols tokens path]   (defaults 10240 2560 512, the best path)
#include "csimd.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const int64_t rows = argc > 1 ? atoll(argv[1]) : 10240, cols = argc > 2 ? atoll(argv[2]) : 2560;
    const int64_t ntok = argc > 3 ? atoll(argv[3]) : 512;
    if (argc > 4 && csimd_kernel_force(argv[4]) != 0) { fprintf(stderr, "unknown path %s\n", argv[4]); return 1; }
    printf("path %s, threads %d, W %lld x %lld\n", csimd_kernel_name(), csimd_threads_get(), (long long)rows, (long long)cols);
    const int64_t nb = cols / 32;
    float *x = malloc(ntok * cols * 4), *y = malloc(ntok * rows * 4), *tmp = malloc(cols * 4);
    for (int64_t i = 0; i < ntok * cols; i++) x[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
    for (int q = 0; q < 2; q++) {
        const size_t bs = q ? sizeof(csimd_block_q4) : sizeof(csimd_block_q8);
        uint8_t *w = malloc(rows * nb * bs);
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t c = 0; c < cols; c++) tmp[c] = (float)(((r * 31 + c * 17) % 2001) - 1000) / 1000.0f;
            if (q) csimd_q4_quantize_absmax_ref(tmp, cols, (csimd_block_q4 *)(w + r * nb * bs));
            else csimd_q8_quantize_ref(tmp, cols, (csimd_block_q8 *)(w + r * nb * bs));
        }
        csimd_matrix m = {w, rows, cols, nb * (int64_t)bs, q ? CSIMD_TYPE_Q4 : CSIMD_TYPE_Q8};
        const double bytes = (double)rows * nb * bs;
        // Matvec: best of several runs of 20 calls.
        double best = 1e9;
        for (int rep = 0; rep < 5; rep++) {
            const double t0 = now();
            for (int i = 0; i < 20; i++) csimd_matrix_multiply(&m, x, 1, NULL, y);
            const double dt = (now() - t0) / 20;
            if (dt < best) best = dt;
        }
        printf("%s matvec : %.3f ms, %.1f GB/s of weights\n", q ? "Q4" : "Q8", best * 1e3, bytes / best / 1e9);
        best = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            const double t0 = now();
            csimd_matrix_multiply(&m, x, ntok, NULL, y);
            const double dt = now() - t0;
            if (dt < best) best = dt;
        }
        const double macs = (double)rows * cols * ntok;
        printf("%s matmul : %lld tokens %.1f ms, %.1f GMAC/s (%.1f GFLOP/s)\n", q ? "Q4" : "Q8", (long long)ntok, best * 1e3,
               macs / best / 1e9, 2 * macs / best / 1e9);
        free(w);
    }
    return 0;
}
