// Standalone self-test of the CSIMD kernels: every path this CPU can run against the scalar `_ref`s.
// Built by run.sh straight from CSIMD/*.c (no SwiftPM); also cross-built for aarch64 and run under qemu.
// Prints one line per failure and "N passed, N failed"; exit status 1 on any failure.
#include "csimd.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
static const char *path_name = "?";

#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (cond) passed++;                                           \
        else {                                                        \
            failed++;                                                 \
            printf("FAIL [%s] %s:%d: ", path_name, __FILE__, __LINE__); \
            printf(__VA_ARGS__);                                      \
            printf("\n");                                             \
        }                                                             \
    } while (0)

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next_u64(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static float uniform(void) { return (float)((next_u64() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }
static float gauss(void) {
    double u1 = ((next_u64() >> 11) + 1) * (1.0 / 9007199254740993.0), u2 = (next_u64() >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static const double U = 1.0 / 16777216.0;  // 2^-24

// ---- Magnitudes for the error bounds ----
static double mag_q8(const csimd_block_q8 *w, const csimd_block_q8a *a, int64_t nb) {
    double m = 0;
    for (int64_t b = 0; b < nb; b++) {
        double s = 0;
        for (int j = 0; j < 32; j++) s += fabs((double)w[b].qs[j] * a[b].qs[j]);
        m += fabs((double)csimd_f16_to_f32(w[b].d) * a[b].d) * s;
    }
    return m;
}
static double mag_q4(const csimd_block_q4 *w, const csimd_block_q8a *a, int64_t nb) {
    double m = 0;
    for (int64_t b = 0; b < nb; b++) {
        double s = 0;
        for (int j = 0; j < 16; j++) {
            s += fabs((double)((w[b].qs[j] & 15) - 8) * a[b].qs[j]);
            s += fabs((double)((w[b].qs[j] >> 4) - 8) * a[b].qs[j + 16]);
        }
        m += fabs((double)csimd_f16_to_f32(w[b].d) * a[b].d) * s;
    }
    return m;
}

static void fill_q8(csimd_block_q8 *w, int64_t nb, int mode) {
    for (int64_t b = 0; b < nb; b++) {
        w[b].d = csimd_f32_to_f16(mode == 3 ? 1.0f : 0.001f + 0.01f * (uniform() + 1.0f));
        for (int j = 0; j < 32; j++)
            w[b].qs[j] = mode == 0 ? (int8_t)(next_u64() % 255 - 127) : mode == 1 ? 0 : mode == 2 ? ((j & 1) ? 127 : -127) : (int8_t)(next_u64() % 255 - 127);
    }
}
static void fill_q4(csimd_block_q4 *w, int64_t nb, int mode) {
    for (int64_t b = 0; b < nb; b++) {
        w[b].d = csimd_f32_to_f16(mode == 3 ? 1.0f : 0.001f + 0.01f * (uniform() + 1.0f));
        for (int j = 0; j < 16; j++)
            w[b].qs[j] = mode == 0 || mode == 3 ? (uint8_t)next_u64() : mode == 1 ? 0x88 : 0x00;  // 0x88: zeros, 0x00: all -8
    }
}
static void fill_act(float *x, int64_t n, int mode) {
    for (int64_t i = 0; i < n; i++) {
        switch (mode) {
        case 0: x[i] = gauss() * 3.0f; break;
        case 1: x[i] = 0.0f; break;
        case 2: x[i] = (i & 1) ? 1e4f : -1e4f; break;                      // +-max
        default: x[i] = (float)((int)(next_u64() % 255) - 127) * 0.5f; break; // exact ties at .5 steps
        }
    }
}

static void test_quantize(void) {
    const int64_t sizes[] = {1, 3, 7, 33, 161};
    for (int m = 0; m < 4; m++)
        for (int s = 0; s < 5; s++) {
            const int64_t nb = sizes[s], n = nb * 32;
            float *x = malloc(n * 4);
            csimd_block_q8a *a = malloc(nb * sizeof *a), *r = malloc(nb * sizeof *r);
            fill_act(x, n, m);
            if (m == 3) x[5] = 127.0f;  // amax 127 -> d = 1, so the .5 steps are round-half-even ties
            memset(a, 0x55, nb * sizeof *a);
            csimd_q8a_quantize(x, n, a);
            csimd_q8a_quantize_ref(x, n, r);
            CHECK(memcmp(a, r, nb * sizeof *a) == 0, "q8a_quantize mode %d nb %lld differs from ref", m, (long long)nb);
            free(x), free(a), free(r);
        }
}

static void test_dots(void) {
    const int64_t sizes[] = {1, 3, 7, 33, 161};
    for (int m = 0; m < 4; m++)
        for (int s = 0; s < 5; s++) {
            const int64_t nb = sizes[s], n = nb * 32;
            float *x = malloc(n * 4);
            csimd_block_q8a *a = malloc(nb * sizeof *a);
            csimd_block_q8 *w8 = malloc(nb * sizeof *w8);
            csimd_block_q4 *w4 = malloc(nb * sizeof *w4);
            fill_act(x, n, m == 3 ? 3 : m);
            if (m == 3)
                for (int64_t b = 0; b < nb; b++) x[b * 32 + 5] = 127.0f;  // every block: d = 1 exactly
            csimd_q8a_quantize_ref(x, n, a);
            fill_q8(w8, nb, m);
            fill_q4(w4, nb, m);
            const float f8 = csimd_dot_q8_q8a(w8, a, nb), r8 = csimd_dot_q8_q8a_ref(w8, a, nb);
            const float f4 = csimd_dot_q4_q8a(w4, a, nb), r4 = csimd_dot_q4_q8a_ref(w4, a, nb);
            if (m == 3) {
                // d = 1 on both sides: every term and partial sum is an integer < 2^24, so results are exact.
                CHECK(f8 == r8, "dot_q8 exact nb %lld: %.9g vs %.9g", (long long)nb, f8, r8);
                CHECK(f4 == r4, "dot_q4 exact nb %lld: %.9g vs %.9g", (long long)nb, f4, r4);
            } else {
                const double b8 = 2.0 * (nb + 16) * U * mag_q8(w8, a, nb), b4 = 2.0 * (nb + 16) * U * mag_q4(w4, a, nb);
                CHECK(fabs((double)f8 - r8) <= b8, "dot_q8 mode %d nb %lld: %.9g vs %.9g (bound %g)", m, (long long)nb, f8, r8, b8);
                CHECK(fabs((double)f4 - r4) <= b4, "dot_q4 mode %d nb %lld: %.9g vs %.9g (bound %g)", m, (long long)nb, f4, r4, b4);
            }
            free(x), free(a), free(w8), free(w4);
        }
}

static void test_fdots(void) {
    const int64_t sizes[] = {0, 1, 3, 17, 31, 33, 64, 1001};
    for (int s = 0; s < 8; s++) {
        const int64_t n = sizes[s];
        float *w = malloc(n * 4 + 4), *x = malloc(n * 4 + 4);
        uint16_t *h = malloc(n * 2 + 2), *bf = malloc(n * 2 + 2);
        double m32 = 0, m16 = 0, mbf = 0;
        for (int64_t i = 0; i < n; i++) {
            w[i] = gauss();
            x[i] = gauss();
            h[i] = csimd_f32_to_f16(w[i]);
            uint32_t u;
            memcpy(&u, &w[i], 4);
            bf[i] = (uint16_t)(u >> 16);
            uint32_t ub = (uint32_t)bf[i] << 16;
            float wb;
            memcpy(&wb, &ub, 4);
            m32 += fabs((double)w[i] * x[i]);
            m16 += fabs((double)csimd_f16_to_f32(h[i]) * x[i]);
            mbf += fabs((double)wb * x[i]);
        }
        const double k = 2.0 * (n + 16) * U;
        float f = csimd_dot_f32(w, x, n), r = csimd_dot_f32_ref(w, x, n);
        CHECK(fabs((double)f - r) <= k * m32, "dot_f32 n %lld: %.9g vs %.9g", (long long)n, f, r);
        f = csimd_dot_f16(h, x, n), r = csimd_dot_f16_ref(h, x, n);
        CHECK(fabs((double)f - r) <= k * m16, "dot_f16 n %lld: %.9g vs %.9g", (long long)n, f, r);
        f = csimd_dot_bf16(bf, x, n), r = csimd_dot_bf16_ref(bf, x, n);
        CHECK(fabs((double)f - r) <= k * mbf, "dot_bf16 n %lld: %.9g vs %.9g", (long long)n, f, r);
        free(w), free(x), free(h), free(bf);
    }
}

static void test_matmul(void) {
    const int64_t rows = 37, nb = 7, cols = nb * 32;
    const int64_t toks[] = {1, 2, 5, 13};
    float *x = malloc(13 * cols * 4), *bias = malloc(rows * 4), *y = malloc(13 * rows * 4), *yr = malloc(13 * rows * 4);
    csimd_block_q8 *w8 = malloc(rows * nb * sizeof *w8);
    csimd_block_q4 *w4 = malloc(rows * nb * sizeof *w4);
    csimd_block_q8a *qa = malloc(13 * nb * sizeof *qa);
    fill_q8(w8, rows * nb, 0);
    fill_q4(w4, rows * nb, 0);
    for (int64_t i = 0; i < rows; i++) bias[i] = gauss();
    fill_act(x, 13 * cols, 0);
    for (int q = 0; q < 2; q++) {
        csimd_matrix m = {q ? (const void *)w4 : (const void *)w8, rows, cols,
                          nb * (int64_t)(q ? sizeof *w4 : sizeof *w8), q ? CSIMD_TYPE_Q4 : CSIMD_TYPE_Q8};
        for (int ti = 0; ti < 4; ti++)
            for (int wb = 0; wb < 2; wb++) {
                const int64_t nt = toks[ti];
                const float *bp = wb ? bias : NULL;
                CHECK(csimd_matrix_multiply(&m, x, nt, bp, y) == 0, "matrix_multiply returned nonzero");
                csimd_matrix_multiply_ref(&m, x, nt, bp, yr);
                for (int64_t t = 0; t < nt; t++) csimd_q8a_quantize_ref(x + t * cols, cols, qa + t * nb);
                int bad = 0;
                for (int64_t t = 0; t < nt && !bad; t++)
                    for (int64_t r = 0; r < rows && !bad; r++) {
                        const void *wr = (const char *)m.data + r * m.row_bytes;
                        const double mag = q ? mag_q4(wr, qa + t * nb, nb) : mag_q8(wr, qa + t * nb, nb);
                        const double bound = 2.0 * (nb + 16) * U * mag + 2.0 * U * 2 * fabs(yr[t * rows + r]) + 1e-30;
                        if (fabs((double)y[t * rows + r] - yr[t * rows + r]) > bound) bad = 1;
                    }
                CHECK(!bad, "matrix_multiply %s n_tokens %lld bias %d differs from ref", q ? "Q4" : "Q8", (long long)nt, wb);
            }
    }
    // cols not a multiple of 32 -> -1
    csimd_matrix bad = {w4, rows, cols - 1, nb * (int64_t)sizeof *w4, CSIMD_TYPE_Q4};
    CHECK(csimd_matrix_multiply(&bad, x, 1, NULL, y) == -1, "cols %% 32 != 0 must be rejected");
    free(x), free(bias), free(y), free(yr), free(w8), free(w4), free(qa);
}

static void test_matmul_f(void) {
    const int64_t rows = 19, cols = 33;
    float *w = malloc(rows * cols * 4), *x = malloc(5 * cols * 4), *y = malloc(5 * rows * 4), *yr = malloc(5 * rows * 4);
    uint16_t *h = malloc(rows * cols * 2);
    for (int64_t i = 0; i < rows * cols; i++) w[i] = gauss(), h[i] = csimd_f32_to_f16(w[i]);
    for (int64_t i = 0; i < 5 * cols; i++) x[i] = gauss();
    for (int ty = 0; ty < 3; ty++) {
        csimd_matrix m = {ty == 0 ? (const void *)w : (const void *)h, rows, cols, cols * (ty == 0 ? 4 : 2),
                          ty == 0 ? CSIMD_TYPE_F32 : ty == 1 ? CSIMD_TYPE_F16 : CSIMD_TYPE_BF16};
        csimd_matrix_multiply(&m, x, 5, NULL, y);
        csimd_matrix_multiply_ref(&m, x, 5, NULL, yr);
        int bad = 0;
        for (int64_t i = 0; i < 5 * rows; i++)
            if (fabs((double)y[i] - yr[i]) > 1e-4 * (1 + fabs(yr[i]))) bad = 1;
        CHECK(!bad, "matrix_multiply F type %d differs from ref", m.type);
    }
    free(w), free(x), free(y), free(yr), free(h);
}

int main(void) {
    static const char *names[] = {"scalar", "avx2", "avx2-vnni", "avx512-vnni", "neon", "neon-dotprod"};
    printf("default path: %s\n", csimd_kernel_name());
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (csimd_kernel_force(names[i]) != 0) {
            printf("skip %s (not supported here)\n", names[i]);
            continue;
        }
        path_name = names[i];
        const int before = failed;
        test_quantize();
        test_dots();
        test_fdots();
        test_matmul();
        test_matmul_f();
        printf("path %-12s %s\n", names[i], failed == before ? "ok" : "FAILED");
    }
    path_name = "api";
    CHECK(csimd_kernel_force("no-such-path") == -1, "unknown name must return -1");
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
