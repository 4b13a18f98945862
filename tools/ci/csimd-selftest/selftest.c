// Standalone self-test of the CSIMD kernels: every path this CPU can run against the scalar `_ref`s.
// Built by run.sh straight from CSIMD/*.c (no SwiftPM); also cross-built for aarch64 and run under qemu.
// Prints one line per failure and "N passed, N failed"; exit status 1 on any failure.
#include "csimd.h"
#include "csimd_kernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
/// The team every parallel kernel runs with here (csimd.h, "Threads"): more than one, odd, so a team
/// larger than a core count and a scratch sized for exactly this many are both exercised.
#define TEAM 3
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

// ---- Weighted Q4 fitting (the converter's, with an importance matrix) ----
// All-ones weights give the unweighted blocks byte for byte; with skewed weights the weighted fit has
// a smaller total weighted error than the unweighted one (over many blocks: each block's search only
// compares candidate scales, so single blocks may tie).
static double q4_weighted_error(const float *x, const float *w, const csimd_block_q4 *q, int64_t n) {
    float *y = malloc(n * 4);
    csimd_q4_dequantize_ref(q, n, y);
    double e = 0;
    for (int64_t i = 0; i < n; i++) e += (double)w[i] * ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    free(y);
    return e;
}

static void test_q4_weighted(void) {
    const int64_t nb = 257, n = nb * 32;
    float *x = malloc(n * 4), *ones = malloc(n * 4), *w = malloc(n * 4);
    csimd_block_q4 *a = malloc(nb * sizeof *a), *b = malloc(nb * sizeof *b);
    for (int64_t i = 0; i < n; i++) {
        x[i] = gauss() * (i % 7 == 0 ? 3.0f : 1.0f);
        ones[i] = 1.0f;
        const float u = uniform() + 1.0f;  // (0, 2): weights spread over three orders of magnitude
        w[i] = u * u * u * u * u * u * u * u * u * u;
    }
    csimd_q4_quantize_ref(x, n, a);
    csimd_q4_quantize_weighted_ref(x, ones, n, b);
    CHECK(memcmp(a, b, nb * sizeof *a) == 0, "q4 weighted with all-ones weights differs from unweighted");
    csimd_q4_quantize_weighted_ref(x, w, n, b);
    const double ew = q4_weighted_error(x, w, b, n), eu = q4_weighted_error(x, w, a, n);
    CHECK(ew < eu, "weighted q4 fit: weighted error %.6g not below the unweighted fit's %.6g", ew, eu);
    free(x), free(ones), free(w), free(a), free(b);
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
                CHECK(csimd_matrix_multiply(&m, x, nt, bp, y, TEAM) == 0, "matrix_multiply returned nonzero");
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
    CHECK(csimd_matrix_multiply(&bad, x, 1, NULL, y, TEAM) == -1, "cols %% 32 != 0 must be rejected");
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
        csimd_matrix_multiply(&m, x, 5, NULL, y, TEAM);
        csimd_matrix_multiply_ref(&m, x, 5, NULL, yr);
        int bad = 0;
        for (int64_t i = 0; i < 5 * rows; i++)
            if (fabs((double)y[i] - yr[i]) > 1e-4 * (1 + fabs(yr[i]))) bad = 1;
        CHECK(!bad, "matrix_multiply F type %d differs from ref", m.type);
    }
    free(w), free(x), free(y), free(yr), free(h);
}


// ---- 4 x 4 tiles: the path's tile_q8 / tile_q4 against csimd_tile_q8_ref / csimd_tile_q4_ref ----
static void fill_r16_case(int mode, csimd_block_q4 *w4, csimd_block_q8 *w8, int64_t n_blocks, float *x, int64_t n);

static void test_tiles(void) {
    const csimd_kernel_table *k = csimd_kernels_current();
    const int64_t nbs[] = {1, 2, 7, 33};
    for (int mode = 0; mode < 4; mode++)
        for (int si = 0; si < 4; si++) {
            const int64_t nb = nbs[si], cols = nb * 32, pad = 3;  // rows and activations at padded strides
            csimd_block_q4 *w4 = malloc(CSIMD_TILE_R * (nb + pad) * sizeof *w4);
            csimd_block_q8 *w8 = malloc(CSIMD_TILE_R * (nb + pad) * sizeof *w8);
            float *x = malloc(CSIMD_TILE_T * cols * 4);
            csimd_block_q8a *qa = malloc(CSIMD_TILE_T * (nb + pad) * sizeof *qa);
            fill_r16_case(mode, w4, w8, CSIMD_TILE_R * (nb + pad), x, CSIMD_TILE_T * cols);
            for (int t = 0; t < CSIMD_TILE_T; t++) csimd_q8a_quantize_ref(x + t * cols, cols, qa + t * (nb + pad));
            for (int q = 0; q < 2; q++) {
                const csimd_tile_q_fn fn = q ? k->tile_q8 : k->tile_q4;
                if (!fn) continue;  // the path loops over its dots, tested above
                const void *w = q ? (const void *)w8 : (const void *)w4;
                const int64_t ws = (nb + pad) * (q ? sizeof *w8 : sizeof *w4), ys = CSIMD_TILE_R + 3;
                for (int nr = 1; nr <= CSIMD_TILE_R; nr++)
                    for (int nt = 1; nt <= CSIMD_TILE_T; nt++) {
                        float y[CSIMD_TILE_T * (CSIMD_TILE_R + 3)], yr[CSIMD_TILE_T * (CSIMD_TILE_R + 3)];
                        for (int i = 0; i < CSIMD_TILE_T * (int)ys; i++) y[i] = yr[i] = -777.0f;
                        fn(w, ws, nr, qa, nb + pad, nt, nb, y, ys);
                        (q ? csimd_tile_q8_ref : csimd_tile_q4_ref)(w, ws, nr, qa, nb + pad, nt, nb, yr, ys);
                        int bad = -1;
                        for (int i = 0; i < CSIMD_TILE_T * (int)ys && bad < 0; i++) {
                            const int t = i / (int)ys, r = i % (int)ys;
                            if (r >= nr || t >= nt) {
                                if (y[i] != -777.0f) bad = i;
                                continue;
                            }
                            const csimd_block_q8a *at = qa + t * (nb + pad);
                            const double m = q ? mag_q8(w8 + r * (nb + pad), at, nb) : mag_q4(w4 + r * (nb + pad), at, nb);
                            const double bound = mode == 1 ? 0 : 2.0 * (nb + 16) * U * m;
                            if (fabs((double)y[i] - yr[i]) > bound) bad = i;
                        }
                        CHECK(bad < 0, "tile_%s mode %d nb %lld nr %d nt %d at t %d r %d: %.9g vs %.9g", q ? "q8" : "q4", mode,
                              (long long)nb, nr, nt, bad / (int)ys, bad % (int)ys, bad >= 0 ? y[bad] : 0, bad >= 0 ? yr[bad] : 0);
                    }
            }
            free(w4), free(w8), free(x), free(qa);
        }
}

// ---- R16 tiles: the path's tile kernels against csimd_r16_tile_ref ----
// Modes: 0 random; 1 exact (scales 1, activations integers with d = 1: results must be equal);
// 2 worst case for the i16 paths (Q4 nibbles 15 / Q8 +127 against activations +127);
// 3 the same with weights -8 / -127 and activations alternating +-127.
static void fill_r16_case(int mode, csimd_block_q4 *w4, csimd_block_q8 *w8, int64_t n_blocks, float *x, int64_t n) {
    for (int64_t b = 0; b < n_blocks; b++) {
        const float d = mode == 1 ? 1.0f : 0.001f + 0.01f * (uniform() + 1.0f);
        w4[b].d = w8[b].d = csimd_f32_to_f16(d);
        for (int j = 0; j < 16; j++)
            w4[b].qs[j] = mode == 2 ? 0xFF : mode == 3 ? 0x00 : (uint8_t)next_u64();
        for (int j = 0; j < 32; j++)
            w8[b].qs[j] = mode == 2 ? 127 : mode == 3 ? -127 : (int8_t)(next_u64() % 255 - 127);
    }
    for (int64_t i = 0; i < n; i++) {
        if (mode == 0) x[i] = gauss() * 3.0f;
        else if (mode == 1) x[i] = (float)((int)(next_u64() % 255) - 127);
        else if (mode == 2) x[i] = 1.0f;
        else x[i] = (i & 1) ? 1.0f : -1.0f;
    }
    if (mode == 1)
        for (int64_t i = 0; i < n; i += 32) x[i] = 127.0f;  // every block: amax 127, d = 1
}

static void test_r16(void) {
    const csimd_kernel_table *k = csimd_kernels_current();
    if (strcmp(path_name, "scalar") != 0) {
        CHECK(k->tile_q4r16 != NULL, "tile_q4r16 is NULL (scalar ref fallback)");
        CHECK(k->tile_q8r16 != NULL, "tile_q8r16 is NULL (scalar ref fallback)");
    }
    const int64_t nbs[] = {1, 2, 7, 33};
    const int nts[] = {1, 2, 3, 4, 5, 7, 8, 9, 13};
    const int nrs[] = {16, 1, 5, 15};
    const int max_nt = 13;
    for (int mode = 0; mode < 4; mode++)
        for (int si = 0; si < 4; si++) {
            const int64_t nb = nbs[si], cols = nb * 32;
            csimd_block_q4 *w4 = malloc(16 * nb * sizeof *w4);
            csimd_block_q8 *w8 = malloc(16 * nb * sizeof *w8);
            float *x = malloc(max_nt * cols * 4);
            csimd_block_q8a *qa = malloc(max_nt * nb * sizeof *qa);
            uint8_t *g4 = malloc(nb * CSIMD_Q4R16_TILE), *g8 = malloc(nb * CSIMD_Q8R16_TILE);
            fill_r16_case(mode, w4, w8, 16 * nb, x, max_nt * cols);
            for (int t = 0; t < max_nt; t++) csimd_q8a_quantize_ref(x + t * cols, cols, qa + t * nb);
            for (int ri = 0; ri < 4; ri++) {
                const int nr = nrs[ri];
                const csimd_block_q4 *r4[16];
                const csimd_block_q8 *r8[16];
                for (int r = 0; r < 16; r++) {
                    r4[r] = r < nr ? w4 + r * nb : NULL;
                    r8[r] = r < nr ? w8 + r * nb : NULL;
                }
                csimd_q4r16_pack(r4, nb, g4);
                csimd_q8r16_pack(r8, nb, g8);
                for (int q = 0; q < 2; q++) {
                    const int32_t type = q ? CSIMD_TYPE_Q8R16 : CSIMD_TYPE_Q4R16;
                    const uint8_t *g = q ? g8 : g4;
                    const csimd_tile_r16_fn fn = q ? k->tile_q8r16 : k->tile_q4r16;
                    if (!fn) continue;
                    for (int ti = 0; ti < (int)(sizeof nts / sizeof nts[0]); ti++) {
                        const int nt = nts[ti];
                        const int64_t ys = 19;  // y stride > 16: checks the kernel writes only r < nr
                        float y[13 * 19], yr[13 * 19];
                        for (int i = 0; i < 13 * 19; i++) y[i] = yr[i] = -777.0f;
                        fn(g, nb, nr, qa, nb, nt, y, ys);
                        csimd_r16_tile_ref(type, g, nb, nr, qa, nb, nt, yr, ys);
                        int bad = -1;
                        for (int i = 0; i < nt * ys && bad < 0; i++) {
                            const int t = i / (int)ys, r = i % (int)ys;
                            if (r >= nr) {
                                if (y[i] != -777.0f) bad = i;
                                continue;
                            }
                            double bound = 0;
                            if (mode != 1) {
                                const double m = q ? mag_q8(w8 + r * nb, qa + t * nb, nb) : mag_q4(w4 + r * nb, qa + t * nb, nb);
                                bound = 2.0 * (nb + 16) * U * m;
                            }
                            if (fabs((double)y[i] - yr[i]) > bound) bad = i;
                        }
                        CHECK(bad < 0, "tile_%sr16 mode %d nb %lld nr %d nt %d at t %d r %d: %.9g vs %.9g", q ? "q8" : "q4", mode,
                              (long long)nb, nr, nt, bad / 19, bad % 19, bad >= 0 ? y[bad] : 0, bad >= 0 ? yr[bad] : 0);
                    }
                }
            }
            free(w4), free(w8), free(x), free(qa), free(g4), free(g8);
        }
    // Whole matrices through csimd_matrix_multiply (converter, groups, chunks, bias) against the ref.
    const int64_t rows = 37, cols = 160;
    float *w = malloc(rows * cols * 4), *x = malloc(13 * cols * 4), *bias = malloc(rows * 4);
    float *y = malloc(13 * rows * 4), *yr = malloc(13 * rows * 4);
    for (int64_t i = 0; i < rows * cols; i++) w[i] = gauss();
    for (int64_t i = 0; i < 13 * cols; i++) x[i] = gauss() * 3.0f;
    for (int64_t i = 0; i < rows; i++) bias[i] = gauss();
    csimd_matrix src = {w, rows, cols, cols * 4, CSIMD_TYPE_F32};
    static const int32_t r16_types[] = {CSIMD_TYPE_Q4R16, CSIMD_TYPE_Q8R16, CSIMD_TYPE_Q4NR16, CSIMD_TYPE_Q3NR16};
    for (int q = 0; q < 4; q++) {
        const int32_t type = r16_types[q];
        const int64_t unit = csimd_type_row_bytes(type, cols);
        void *data = malloc(3 * unit);
        CHECK(csimd_rows_convert(&src, NULL, 0, rows, type, data, TEAM) == 0, "rows_convert to type %d", type);
        csimd_matrix m = {data, rows, cols, unit, type};
        const int64_t toks[] = {1, 4, 13};
        for (int ti = 0; ti < 3; ti++) {
            csimd_matrix_multiply(&m, x, toks[ti], bias, y, TEAM);
            csimd_matrix_multiply_ref(&m, x, toks[ti], bias, yr);
            double scale = 1;
            for (int64_t i = 0; i < toks[ti] * rows; i++) scale = fmax(scale, fabs(yr[i]));
            int bad = 0;
            for (int64_t i = 0; i < toks[ti] * rows; i++)
                if (fabs((double)y[i] - yr[i]) > 1e-5 * scale) bad = 1;
            CHECK(!bad, "matrix_multiply type %d n_tokens %lld differs from ref", type, (long long)toks[ti]);
        }
        free(data);
    }
    free(w), free(x), free(bias), free(y), free(yr);
}

// ---- Grid types (Q4N, Q3N): quantizers, plain blocks, R16 tiles and every path's tile kernel ----
// Random blocks are built as grid indices; type 0 is Q4N, 1 is Q3N.
static int grid_levels(int type) { return type ? 8 : 16; }
static const int8_t *grid_values(int type) { return type ? CSIMD_Q3N_GRID : CSIMD_Q4N_GRID; }
static size_t grid_block_bytes(int type) { return type ? sizeof(csimd_block_q3n) : sizeof(csimd_block_q4n); }

static void grid_quantize(int type, const float *x, const float *w, int64_t n, void *out) {
    if (type) csimd_q3n_quantize_weighted_ref(x, w, n, out);
    else csimd_q4n_quantize_weighted_ref(x, w, n, out);
}
static void grid_dequantize(int type, const void *b, int64_t n, float *out) {
    if (type) csimd_q3n_dequantize_ref(b, n, out);
    else csimd_q4n_dequantize_ref(b, n, out);
}
static int grid_index(int type, const void *blocks, int64_t b, int j) {
    if (type) return csimd_q3n_index((const csimd_block_q3n *)blocks + b, j);
    const csimd_block_q4n *q = (const csimd_block_q4n *)blocks + b;
    return j < 16 ? q->qs[j] & 15 : q->qs[j - 16] >> 4;
}
static uint16_t grid_scale(int type, const void *blocks, int64_t b) {
    return type ? ((const csimd_block_q3n *)blocks)[b].d : ((const csimd_block_q4n *)blocks)[b].d;
}
/// Block b with scale d and indices idx[32].
static void grid_set(int type, void *blocks, int64_t b, uint16_t d, const int idx[32]) {
    if (type) {
        csimd_block_q3n *q = (csimd_block_q3n *)blocks + b;
        memset(q, 0, sizeof *q);
        q->d = d;
        for (int j = 0; j < 32; j++) {
            q->ql[j / 4] |= (uint8_t)((idx[j] & 3) << (2 * (j % 4)));
            q->qh[j / 8] |= (uint8_t)((idx[j] >> 2) << (j % 8));
        }
    } else {
        csimd_block_q4n *q = (csimd_block_q4n *)blocks + b;
        q->d = d;
        for (int j = 0; j < 16; j++) q->qs[j] = (uint8_t)(idx[j] | (idx[j + 16] << 4));
    }
}
static double mag_grid(int type, const void *w, const csimd_block_q8a *a, int64_t nb) {
    double m = 0;
    for (int64_t b = 0; b < nb; b++) {
        double s = 0;
        for (int j = 0; j < 32; j++) s += fabs((double)grid_values(type)[grid_index(type, w, b, j)] * a[b].qs[j]);
        m += fabs((double)csimd_f16_to_f32(grid_scale(type, w, b)) * a[b].d) * s;
    }
    return m;
}

/// Quantizer: indices index the grid, values round-trip within half the widest gap (or the clipping
/// beyond the grid's end), all-ones weights = unweighted, weights lower the weighted error.
static void test_grid_quantize(void) {
    for (int type = 0; type < 2; type++) {
        const int L = grid_levels(type);
        const int8_t *g = grid_values(type);
        int maxgap = 0;
        for (int k = 0; k + 1 < L; k++) maxgap = g[k + 1] - g[k] > maxgap ? g[k + 1] - g[k] : maxgap;
        const int64_t nb = 257, n = nb * 32;
        float *x = malloc(n * 4), *y = malloc(n * 4), *ones = malloc(n * 4), *w = malloc(n * 4);
        void *a = malloc(nb * grid_block_bytes(type)), *b = malloc(nb * grid_block_bytes(type));
        for (int64_t i = 0; i < n; i++) {
            x[i] = gauss() * (i % 7 == 0 ? 3.0f : 1.0f);
            if (i < 32) x[i] = 0.0f;  // an all-zero block
            ones[i] = 1.0f;
            const float u = uniform() + 1.0f;
            w[i] = u * u * u * u * u * u * u * u * u * u;
        }
        grid_quantize(type, x, NULL, n, a);
        grid_dequantize(type, a, n, y);
        int bad = -1;
        for (int64_t blk = 0; blk < nb && bad < 0; blk++) {
            const double d = csimd_f16_to_f32(grid_scale(type, a, blk));
            for (int j = 0; j < 32; j++) {
                const int64_t i = blk * 32 + j;
                // Inside the grid's range: half the widest gap; beyond an end: the distance to it.
                const double v = d != 0 ? x[i] / d : 0;
                const double over = v > g[L - 1] ? v - g[L - 1] : v < g[0] ? g[0] - v : 0;
                if (fabs((double)y[i] - x[i]) > fmax(0.5 * maxgap, over) * fabs(d) * (1 + 1e-3) + 1e-7) bad = (int)i;
            }
        }
        CHECK(bad < 0, "q%dn round trip at %d: %.6g -> %.6g", type ? 3 : 4, bad, bad >= 0 ? x[bad] : 0, bad >= 0 ? y[bad] : 0);
        for (int j = 0; j < 32; j++) CHECK(y[j] == 0.0f, "q%dn: a zero block must stay zero", type ? 3 : 4);
        grid_quantize(type, x, ones, n, b);
        CHECK(memcmp(a, b, nb * grid_block_bytes(type)) == 0, "q%dn weighted with all-ones weights differs", type ? 3 : 4);
        grid_quantize(type, x, w, n, b);
        double ew = 0, eu = 0;
        grid_dequantize(type, b, n, ones);  // reuse: the weighted fit's values
        for (int64_t i = 0; i < n; i++) {
            ew += w[i] * (x[i] - ones[i]) * (x[i] - ones[i]);
            eu += w[i] * (x[i] - y[i]) * (x[i] - y[i]);
        }
        CHECK(ew < eu, "q%dn weighted fit: weighted error %.6g not below the unweighted fit's %.6g", type ? 3 : 4, ew, eu);
        free(x), free(y), free(ones), free(w), free(a), free(b);
    }
}

/// Tiles: packing keeps the plain blocks' values (row dequantize); the reference tile equals the
/// plain reference dot; every path's tile kernel matches the reference tile. Modes: 0 random indices,
/// 1 exact (scales 1, integer activations with d = 1: equal), 2 all +63 against +127, 3 all -63
/// against alternating +-127 (the i16 paths' worst cases).
static void test_r16_grids(void) {
    const csimd_kernel_table *k = csimd_kernels_current();
    const int64_t nbs[] = {1, 2, 7, 33};
    const int nts[] = {1, 2, 3, 4, 5, 8, 9, 13};
    const int nrs[] = {16, 1, 5, 15};
    const int max_nt = 13;
    for (int type = 0; type < 2; type++) {
        const int32_t ctype = type ? CSIMD_TYPE_Q3NR16 : CSIMD_TYPE_Q4NR16;
        const csimd_tile_r16_fn fn = type ? k->tile_q3nr16 : k->tile_q4nr16;
        if (strcmp(path_name, "scalar") != 0) CHECK(fn != NULL, "tile_q%dnr16 is NULL (scalar ref fallback)", type ? 3 : 4);
        const int L = grid_levels(type);
        for (int mode = 0; mode < 4; mode++)
            for (int si = 0; si < 4; si++) {
                const int64_t nb = nbs[si], cols = nb * 32;
                void *wb = malloc(16 * nb * grid_block_bytes(type));
                float *x = malloc(max_nt * cols * 4), *row = malloc(cols * 4), *plain = malloc(cols * 4);
                csimd_block_q8a *qa = malloc(max_nt * nb * sizeof *qa);
                uint8_t *g = malloc(nb * csimd_r16_tile_bytes(ctype));
                for (int64_t b = 0; b < 16 * nb; b++) {
                    int idx[32];
                    for (int j = 0; j < 32; j++) idx[j] = mode == 2 ? L - 1 : mode == 3 ? 0 : (int)(next_u64() % L);
                    const float d = mode == 1 ? 1.0f : (0.001f + 0.01f * (uniform() + 1.0f)) * (b % 3 ? 1 : -1);
                    grid_set(type, wb, b, csimd_f32_to_f16(d), idx);
                }
                for (int64_t i = 0; i < max_nt * cols; i++) {
                    if (mode == 0) x[i] = gauss() * 3.0f;
                    else if (mode == 1) x[i] = (float)((int)(next_u64() % 255) - 127);
                    else if (mode == 2) x[i] = 1.0f;
                    else x[i] = (i & 1) ? 1.0f : -1.0f;
                }
                if (mode == 1)
                    for (int64_t i = 0; i < max_nt * cols; i += 32) x[i] = 127.0f;
                for (int t = 0; t < max_nt; t++) csimd_q8a_quantize_ref(x + t * cols, cols, qa + t * nb);
                for (int ri = 0; ri < 4; ri++) {
                    const int nr = nrs[ri];
                    const void *rows[16];
                    for (int r = 0; r < 16; r++) rows[r] = r < nr ? (const char *)wb + r * nb * grid_block_bytes(type) : NULL;
                    if (type) csimd_q3nr16_pack((const csimd_block_q3n *const *)rows, nb, g);
                    else csimd_q4nr16_pack((const csimd_block_q4n *const *)rows, nb, g);
                    for (int r = 0; r < 16; r++) {
                        if (type) csimd_q3nr16_row_dequantize(g, nb, r, row);
                        else csimd_q4nr16_row_dequantize(g, nb, r, row);
                        if (r < nr) grid_dequantize(type, rows[r], cols, plain);
                        else memset(plain, 0, cols * 4);
                        int same = 1;  // == : a padded row may dequantize to -0
                        for (int64_t c = 0; c < cols; c++) same &= row[c] == plain[c];
                        CHECK(same, "q%dnr16 row %d of a packed group differs", type ? 3 : 4, r);
                    }
                    for (int ti = 0; ti < (int)(sizeof nts / sizeof nts[0]); ti++) {
                        const int nt = nts[ti];
                        const int64_t ys = 19;
                        float y[13 * 19], yr[13 * 19];
                        for (int i = 0; i < 13 * 19; i++) y[i] = yr[i] = -777.0f;
                        csimd_r16_tile_ref(ctype, g, nb, nr, qa, nb, nt, yr, ys);
                        if (fn) fn(g, nb, nr, qa, nb, nt, y, ys);
                        else memcpy(y, yr, sizeof y);
                        int bad = -1, bad_ref = -1;
                        for (int i = 0; i < nt * ys && bad < 0; i++) {
                            const int t = i / (int)ys, r = i % (int)ys;
                            if (r >= nr) {
                                if (y[i] != -777.0f || yr[i] != -777.0f) bad = i;
                                continue;
                            }
                            const void *wr = rows[r];
                            const float plain_dot = type ? csimd_dot_q3n_q8a_ref(wr, qa + t * nb, nb)
                                                         : csimd_dot_q4n_q8a_ref(wr, qa + t * nb, nb);
                            if (plain_dot != yr[i]) bad_ref = i;
                            const double bound = mode == 1 ? 0 : 2.0 * (nb + 16) * U * mag_grid(type, wr, qa + t * nb, nb);
                            if (fabs((double)y[i] - yr[i]) > bound) bad = i;
                        }
                        CHECK(bad_ref < 0, "csimd_r16_tile_ref q%dnr16 differs from the plain reference dot at %d", type ? 3 : 4, bad_ref);
                        CHECK(bad < 0, "tile_q%dnr16 mode %d nb %lld nr %d nt %d at t %d r %d: %.9g vs %.9g", type ? 3 : 4, mode,
                              (long long)nb, nr, nt, bad / 19, bad % 19, bad >= 0 ? y[bad] : 0, bad >= 0 ? yr[bad] : 0);
                    }
                }
                free(wb), free(x), free(row), free(plain), free(qa), free(g);
            }
    }
}

// ---- Attention over f32 / f16 / q8 caches, position-major and head-major, against csimd_attention_ref ----
static void test_attention(void) {
    static const int64_t hds[] = {5, 16, 17, 80, 128};
    for (size_t hi = 0; hi < sizeof hds / sizeof hds[0]; hi++) {
        const int64_t nh = 3, hd = hds[hi], width = nh * hd, pos0 = 37, ntok = 3, span = pos0 + ntok, nctx = span + 2;
        const int64_t qts = width + 3;
        const float scale = 1.0f / sqrtf((float)hd);
        float *q = malloc(sizeof(float) * ntok * qts), *k = malloc(sizeof(float) * span * width);
        float *v = malloc(sizeof(float) * span * width), *kd = malloc(sizeof(float) * span * width);
        float *vd = malloc(sizeof(float) * span * width), *ref = malloc(sizeof(float) * ntok * width);
        float *out = malloc(sizeof(float) * ntok * width), *scratch = malloc(sizeof(float) * TEAM * span);
        uint16_t *kh = malloc(2 * span * width), *vh = malloc(2 * span * width);
        int8_t *k8 = malloc(span * width), *v8 = malloc(span * width);
        float *ks = malloc(sizeof(float) * span * nh), *vs = malloc(sizeof(float) * span * nh);
        // Head-major copies with nctx positions per head (the spare ones hold NaN / 0: never read).
        float *khm = malloc(sizeof(float) * nh * nctx * hd), *vhm = malloc(sizeof(float) * nh * nctx * hd);
        int8_t *k8hm = calloc(nh * nctx * hd, 1), *v8hm = calloc(nh * nctx * hd, 1);
        float *kshm = malloc(sizeof(float) * nh * nctx), *vshm = malloc(sizeof(float) * nh * nctx);
        for (int64_t i = 0; i < ntok * qts; i++) q[i] = 2 * uniform();
        for (int64_t i = 0; i < span * width; i++) k[i] = 2 * uniform(), v[i] = uniform();
        for (int64_t i = 0; i < nh * nctx * hd; i++) khm[i] = vhm[i] = NAN;
        for (int64_t i = 0; i < nh * nctx; i++) kshm[i] = vshm[i] = NAN;
        for (int64_t r = 0; r < span * nh; r++) {
            ks[r] = csimd_kv_q8_row(k + r * hd, hd, k8 + r * hd);
            vs[r] = csimd_kv_q8_row(v + r * hd, hd, v8 + r * hd);
        }
        for (int64_t p = 0; p < span; p++)
            for (int64_t h = 0; h < nh; h++) {
                const int64_t r = p * nh + h, o = (h * nctx + p) * hd;
                kshm[h * nctx + p] = ks[r], vshm[h * nctx + p] = vs[r];
                for (int64_t d = 0; d < hd; d++) {
                    khm[o + d] = k[r * hd + d], vhm[o + d] = v[r * hd + d];
                    k8hm[o + d] = k8[r * hd + d], v8hm[o + d] = v8[r * hd + d];
                }
            }
        const double tol = 1e-5;  // of max |v| = 1
        for (int which = 0; which < 5; which++) {
            // 0 f32, 1 f16, 2 q8 (position-major); 3 f32, 4 q8 (head-major)
            const int64_t hs = which >= 3 ? nctx * hd : hd, ps = which >= 3 ? hd : width;
            for (int64_t i = 0; i < span * width; i++) {
                if (which == 1) {
                    kh[i] = csimd_f32_to_f16(k[i]), vh[i] = csimd_f32_to_f16(v[i]);
                    kd[i] = csimd_f16_to_f32(kh[i]), vd[i] = csimd_f16_to_f32(vh[i]);
                } else if (which == 2 || which == 4) {
                    kd[i] = ks[i / hd] * k8[i], vd[i] = vs[i / hd] * v8[i];
                } else {
                    kd[i] = k[i], vd[i] = v[i];
                }
            }
            csimd_attention_ref(q, qts, hd, kd, vd, nh, hd, hd, width, pos0, ntok, scale, scratch, ref);
            if (which == 3) {  // the reference reads any layout: head-major gives the same bits
                csimd_attention_ref(q, qts, hd, khm, vhm, nh, hd, hs, ps, pos0, ntok, scale, scratch, out);
                CHECK(memcmp(out, ref, sizeof(float) * ntok * width) == 0,
                      "csimd_attention_ref head-major differs from position-major, head_dim %lld", (long long)hd);
            }
            for (int64_t i = 0; i < ntok * width; i++) out[i] = NAN;
            switch (which) {
            case 0: csimd_attention_f32(q, qts, hd, k, v, nh, hd, hs, ps, pos0, ntok, scale, scratch, out, TEAM); break;
            case 1: csimd_attention_f16(q, qts, hd, kh, vh, nh, hd, hs, ps, pos0, ntok, scale, scratch, out, TEAM); break;
            case 2: csimd_attention_q8(q, qts, hd, k8, ks, v8, vs, nh, hd, hs, ps, pos0, ntok, scale, scratch, out, TEAM); break;
            case 3: csimd_attention_f32(q, qts, hd, khm, vhm, nh, hd, hs, ps, pos0, ntok, scale, scratch, out, TEAM); break;
            default: csimd_attention_q8(q, qts, hd, k8hm, kshm, v8hm, vshm, nh, hd, hs, ps, pos0, ntok, scale, scratch, out, TEAM); break;
            }
            int bad = 0;
            for (int64_t i = 0; i < ntok * width; i++)
                if (!(fabs((double)out[i] - ref[i]) <= tol)) bad = 1;
            CHECK(!bad, "attention cache %d head_dim %lld differs from csimd_attention_ref", which, (long long)hd);
        }
        free(q), free(k), free(v), free(kd), free(vd), free(ref), free(out), free(scratch), free(kh), free(vh);
        free(k8), free(v8), free(ks), free(vs), free(khm), free(vhm), free(k8hm), free(v8hm), free(kshm), free(vshm);
    }
}

// ---- Batch independence: a token's output row does not depend on which other tokens share the call ----
// The server decodes several sequences in one pass and prefills in chunks of any size: a greedy answer
// must not change with them. Every type, 1..13 tokens, each row bit-equal to the same token run alone.
static void test_batch_independence(void) {
    const int64_t rows = 37, cols = 160, nt = 13;
    float *w = malloc(rows * cols * 4), *x = malloc(nt * cols * 4), *y = malloc(nt * rows * 4), *y1 = malloc(rows * 4);
    for (int64_t i = 0; i < rows * cols; i++) w[i] = gauss();
    for (int64_t i = 0; i < nt * cols; i++) x[i] = gauss() * 3.0f;
    csimd_matrix src = {w, rows, cols, cols * 4, CSIMD_TYPE_F32};
    static const int32_t types[] = {CSIMD_TYPE_F32,   CSIMD_TYPE_F16,   CSIMD_TYPE_BF16,   CSIMD_TYPE_Q8,    CSIMD_TYPE_Q4,
                                    CSIMD_TYPE_Q8R16, CSIMD_TYPE_Q4R16, CSIMD_TYPE_Q4NR16, CSIMD_TYPE_Q3NR16};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const int32_t type = types[ti];
        const int r16 = csimd_r16_tile_bytes(type) != 0;
        const int64_t unit = csimd_type_row_bytes(type, cols);  // R16: one group of 16 rows
        void *data = malloc((r16 ? (rows + 15) / 16 : rows) * unit);
        CHECK(csimd_rows_convert(&src, NULL, 0, rows, type, data, TEAM) == 0, "rows_convert to type %d", type);
        const csimd_matrix m = {data, rows, cols, unit, type};
        for (int64_t n = 1; n <= nt; n++) {
            csimd_matrix_multiply(&m, x, n, NULL, y, TEAM);
            int bad = -1;
            for (int64_t t = 0; t < n && bad < 0; t++) {
                csimd_matrix_multiply(&m, x + t * cols, 1, NULL, y1, TEAM);
                if (memcmp(y1, y + t * rows, rows * 4) != 0) bad = (int)t;
            }
            CHECK(bad < 0, "type %d: token %d of a %lld-token call differs from the same token alone", type, bad,
                  (long long)n);
        }
        free(data);
    }
    free(w), free(x), free(y), free(y1);
}

// ---- Error-compensating fit (gptq.c, quant_ref.c): portable C, run once, on every build of this test ----

/// rows x cols (multiple of 16 rows not needed) through csimd_rows_convert_weighted to Q4NR16 / Q3NR16 and back.
static void grid_roundtrip(int type, const float *w, int rows, int64_t cols, const float *factor, int64_t band, float *out) {
    const int32_t t = type ? CSIMD_TYPE_Q3NR16 : CSIMD_TYPE_Q4NR16;
    const int64_t group = csimd_type_row_bytes(t, cols), groups = (rows + 15) / 16;
    uint8_t *q = malloc((size_t)(groups * group));
    csimd_matrix m = {.data = w, .rows = rows, .cols = cols, .row_bytes = cols * 4, .type = CSIMD_TYPE_F32};
    csimd_quant_weights qw = {.importance = NULL, .magnitude = 0, .factor = factor, .band = band};
    CHECK(csimd_rows_convert_weighted(&m, NULL, 0, rows, t, q, &qw, TEAM) == 0, "compensated convert");
    for (int r = 0; r < rows; r++) {
        if (type) csimd_q3nr16_row_dequantize(q + (r / 16) * group, cols / 32, r % 16, out + r * cols);
        else csimd_q4nr16_row_dequantize(q + (r / 16) * group, cols / 32, r % 16, out + r * cols);
    }
    free(q);
}

/// The path's covariance tile against its scalar twin, odd token counts and strides; bound as for f32
/// dots: 2 (n + 16) 2^-24 sum |products|.
static void test_covariance_tile(void) {
    const int64_t stride = 53;
    for (int64_t tokens = 1; tokens <= 131; tokens += 13) {
        float *x = malloc(sizeof(float) * tokens * stride);
        for (int64_t i = 0; i < tokens * stride; i++) x[i] = gauss();
        for (int64_t i0 = 0; i0 + CSIMD_COV_TILE_I <= stride; i0 += 7)
            for (int64_t k0 = 0; k0 + CSIMD_COV_TILE_K <= stride; k0 += 11) {
                float got[CSIMD_COV_TILE_I * CSIMD_COV_TILE_K], want[CSIMD_COV_TILE_I * CSIMD_COV_TILE_K];
                csimd_kernels_current()->ops->covariance_tile(x, tokens, stride, i0, k0, got);
                csimd_covariance_tile_ref(x, tokens, stride, i0, k0, want);
                for (int a = 0; a < CSIMD_COV_TILE_I; a++)
                    for (int b = 0; b < CSIMD_COV_TILE_K; b++) {
                        double m = 0.0;
                        for (int64_t t = 0; t < tokens; t++) m += fabs((double)x[t * stride + i0 + a] * x[t * stride + k0 + b]);
                        const double e = fabs((double)got[a * CSIMD_COV_TILE_K + b] - want[a * CSIMD_COV_TILE_K + b]);
                        CHECK(e <= 2.0 * (tokens + 16) * U * m, "covariance tile t=%lld (%lld+%d, %lld+%d): %g vs %g",
                              (long long)tokens, (long long)i0, a, (long long)k0, b, got[a * CSIMD_COV_TILE_K + b],
                              want[a * CSIMD_COV_TILE_K + b]);
                    }
            }
        free(x);
    }
}

/// Output error with compensation over without, per grid, summed over test_compensated's draws.
static double compensated_ratio_sum[2];

static void test_compensated(void) {
    const int tokens = 203, rows = 21;
    const int64_t cols = 160, band = 64;  // bands of 64, 64, 32
    const int64_t nh = csimd_band_floats(cols, band);
    CHECK(nh == 64 * 64 * 2 + 32 * 32, "band floats %lld", (long long)nh);
    // Correlated inputs: gaussian rows times a random mixing matrix, so columns far apart in a band
    // correlate too (the update past each 32-column block matters).
    float *z = malloc(sizeof(float) * tokens * cols), *x = malloc(sizeof(float) * tokens * cols);
    float *mix = malloc(sizeof(float) * cols * cols);
    for (int64_t i = 0; i < tokens * cols; i++) z[i] = gauss();
    for (int64_t i = 0; i < cols * cols; i++) mix[i] = gauss() / sqrtf((float)cols);
    for (int t = 0; t < tokens; t++)
        for (int64_t c = 0; c < cols; c++) {
            float v = 0.3f * z[t * cols + c];
            for (int64_t k = 0; k < cols; k++) v += z[t * cols + k] * mix[k * cols + c];
            x[t * cols + c] = v;
        }
    free(mix);
    float *h = calloc((size_t)nh, sizeof(float)), *u = malloc(sizeof(float) * nh);
    CHECK(csimd_covariance_accumulate(x, tokens, cols, band, h, TEAM) == 0, "accumulate");
    int bad = 0;
    for (int64_t b0 = 0, at = 0; b0 < cols; at += (cols - b0 < band ? cols - b0 : band) * (cols - b0 < band ? cols - b0 : band), b0 += band) {
        const int64_t bw = cols - b0 < band ? cols - b0 : band;
        for (int64_t i = 0; i < bw; i++)
            for (int64_t k = 0; k < bw; k++) {
                double s = 0.0;
                for (int t = 0; t < tokens; t++) s += (double)x[t * cols + b0 + i] * x[t * cols + b0 + k];
                if (fabs(h[at + i * bw + k] - s) > 1e-5 * tokens * 4) bad++;
            }
    }
    CHECK(bad == 0, "covariance bands: %d entries off their double sums", bad);
    CHECK(csimd_gptq_factor(h, cols, band, 0.01, u, TEAM) == 0, "factor");
    // U^T U (H + damp I) = I, band by band.
    double diag = 0.0, worst = 0.0;
    for (int64_t b0 = 0, at = 0; b0 < cols; b0 += band) {
        const int64_t bw = cols - b0 < band ? cols - b0 : band;
        for (int64_t i = 0; i < bw; i++) diag += h[at + i * bw + i];
        at += bw * bw;
    }
    const double lambda = 0.01 * diag / (double)cols;
    for (int64_t b0 = 0, at = 0; b0 < cols; b0 += band) {
        const int64_t bw = cols - b0 < band ? cols - b0 : band;
        for (int64_t i = 0; i < bw; i++)
            for (int64_t k = 0; k < bw; k++) {
                double s = 0.0;
                for (int64_t m = 0; m < bw; m++) {
                    double utu = 0.0;
                    for (int64_t r = 0; r <= (i < m ? i : m); r++) utu += (double)u[at + r * bw + i] * u[at + r * bw + m];
                    s += utu * (h[at + m * bw + k] + (m == k ? lambda : 0.0));
                }
                const double e = fabs(s - (i == k ? 1.0 : 0.0));
                if (e > worst) worst = e;
            }
        at += bw * bw;
    }
    CHECK(worst < 2e-3, "U^T U (H + damp I) - I: %g", worst);
    // Compensation lowers the layer's output error, for both grids.
    float *w = malloc(sizeof(float) * rows * cols), *plain = malloc(sizeof(float) * rows * cols), *comp = malloc(sizeof(float) * rows * cols);
    for (int64_t i = 0; i < rows * cols; i++) w[i] = gauss();
    for (int type = 0; type < 2; type++) {
        grid_roundtrip(type, w, rows, cols, NULL, band, plain);
        grid_roundtrip(type, w, rows, cols, u, band, comp);
        double ep = 0.0, ec = 0.0;
        for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++) {
                double sp = 0.0, sc = 0.0;
                for (int64_t c = 0; c < cols; c++) {
                    sp += (double)(w[r * cols + c] - plain[r * cols + c]) * x[t * cols + c];
                    sc += (double)(w[r * cols + c] - comp[r * cols + c]) * x[t * cols + c];
                }
                ep += sp * sp;
                ec += sc * sc;
            }
        // One draw of 21 rows varies (0.72-0.83 over eight seeds): each must gain, the mean clearly.
        CHECK(ec < 0.95 * ep, "grid %d: compensated output error %g, plain %g", type, ec, ep);
        compensated_ratio_sum[type] += ec / ep;
    }
    // An indefinite band is refused.
    for (int64_t i = 0; i < nh; i++) h[i] = 1.0f;
    h[1] = h[64] = 2.0f;
    CHECK(csimd_gptq_factor(h, cols, band, 0.0, u, TEAM) == -1, "indefinite band must be refused");
    free(z), free(x), free(h), free(u), free(w), free(plain), free(comp);
}


// ---- LoRA: the path's down / up kernels against their twins, then csimd_lora_apply against
// csimd_lora_apply_ref (odd ranks, odd lengths, f16 and q8, a team of TEAM) ----
static void fill_f16(uint16_t *h, int64_t n, float amp) {
    for (int64_t i = 0; i < n; i++) h[i] = csimd_f32_to_f16(gauss() * amp);
}
static void test_lora(void) {
    const csimd_kernel_table *k = csimd_kernels_current();
    if (strcmp(path_name, "scalar") != 0)
        CHECK(k->lora_down_q8 && k->lora_up_f32 && k->lora_up_f16 && k->lora_up_q8, "LoRA kernels missing from the table");
    if (!k->lora_down_q8 || !k->lora_up_f32 || !k->lora_up_f16 || !k->lora_up_q8) return;
    // Kernels alone.
    const int64_t nbs[] = {1, 3, 5, 17};
    for (int i = 0; i < 4; i++) {
        const int64_t nb = nbs[i], n = nb * 32;
        csimd_block_q8 *a = malloc(nb * sizeof *a);
        float *x = malloc(n * 4);
        fill_q8(a, nb, i % 4);
        fill_act(x, n, 0);
        double m = 0;
        for (int64_t b = 0; b < nb; b++)
            for (int j = 0; j < 32; j++) m += fabs((double)csimd_f16_to_f32(a[b].d) * a[b].qs[j] * x[b * 32 + j]);
        const float got = k->lora_down_q8(a, x, nb), want = csimd_lora_down_q8_ref(a, x, nb);
        CHECK(fabs((double)got - want) <= 2.0 * (n + 16) * U * m, "lora_down_q8 nb %lld: %g vs %g", (long long)nb, got, want);
        free(a), free(x);
    }
    const int64_t ranks[] = {1, 3, 16, 17};
    const int64_t widths[] = {1, 7, 9, 31, 33, 64, 100, 161};
    for (int ri = 0; ri < 4; ri++)
        for (int wi = 0; wi < 8; wi++) {
            const int64_t rank = ranks[ri], n = widths[wi], stride = n + 5;
            uint16_t *bt = malloc(rank * stride * 2);
            float *t = malloc(rank * 4), *y = malloc(n * 4), *yr = malloc(n * 4);
            fill_f16(bt, rank * stride, 0.1f);
            for (int64_t j = 0; j < rank; j++) t[j] = gauss();
            for (int64_t o = 0; o < n; o++) y[o] = yr[o] = gauss();
            k->lora_up_f16(bt, rank, stride, t, 0.75f, y, n);
            csimd_lora_up_f16_ref(bt, rank, stride, t, 0.75f, yr, n);
            for (int64_t o = 0; o < n; o++) {
                double p = 0;
                for (int64_t j = 0; j < rank; j++) p += fabs(0.75 * t[j] * csimd_f16_to_f32(bt[j * stride + o]));
                CHECK(fabs((double)y[o] - yr[o]) <= 2.0 * (rank + 16) * U * p + 2 * U * fabs(yr[o]),
                      "lora_up_f16 rank %lld n %lld o %lld: %g vs %g", (long long)rank, (long long)n, (long long)o, y[o], yr[o]);
            }
            // f32 B: the same values widened.
            float *bf = malloc(rank * stride * 4);
            for (int64_t j = 0; j < rank * stride; j++) bf[j] = csimd_f16_to_f32(bt[j]) * 1.0001f;
            for (int64_t o = 0; o < n; o++) y[o] = yr[o] = gauss();
            k->lora_up_f32(bf, rank, stride, t, -0.5f, y, n);
            csimd_lora_up_f32_ref(bf, rank, stride, t, -0.5f, yr, n);
            for (int64_t o = 0; o < n; o++) {
                double p = 0;
                for (int64_t j = 0; j < rank; j++) p += fabs(0.5 * t[j] * bf[j * stride + o]);
                CHECK(fabs((double)y[o] - yr[o]) <= 2.0 * (rank + 16) * U * p + 2 * U * fabs(yr[o]),
                      "lora_up_f32 rank %lld n %lld o %lld: %g vs %g", (long long)rank, (long long)n, (long long)o, y[o], yr[o]);
            }
            free(bf), free(bt), free(t), free(y), free(yr);
            if (n % 2 == 0) continue;
            // q8: n blocks of outputs (odd counts), stride in blocks.
            const int64_t nb = n, sb = nb + 2;
            csimd_block_q8 *q = malloc(rank * sb * sizeof *q);
            fill_q8(q, rank * sb, wi % 4);
            t = malloc(rank * 4), y = malloc(nb * 32 * 4), yr = malloc(nb * 32 * 4);
            for (int64_t j = 0; j < rank; j++) t[j] = gauss();
            for (int64_t o = 0; o < nb * 32; o++) y[o] = yr[o] = gauss();
            k->lora_up_q8(q, rank, sb, t, -1.5f, y, nb);
            csimd_lora_up_q8_ref(q, rank, sb, t, -1.5f, yr, nb);
            for (int64_t o = 0; o < nb * 32; o++) {
                double p = 0;
                for (int64_t j = 0; j < rank; j++) {
                    const csimd_block_q8 *blk = q + j * sb + o / 32;
                    p += fabs(1.5 * t[j] * csimd_f16_to_f32(blk->d) * blk->qs[o % 32]);
                }
                CHECK(fabs((double)y[o] - yr[o]) <= 2.0 * (rank + 16) * U * p + 2 * U * fabs(yr[o]),
                      "lora_up_q8 rank %lld nb %lld o %lld: %g vs %g", (long long)rank, (long long)nb, (long long)o, y[o], yr[o]);
            }
            free(q), free(t), free(y), free(yr);
        }
    // The whole delta, threaded, against the reference (relative to the delta's magnitude).
    for (int type = 0; type < 3; type++)  // f16, q8, f32
        for (int c = 0; c < 3; c++) {
            const int q8 = type == 1;
            const int64_t rank = ranks[c + 1], cols = q8 ? 96 : 97 + 64 * c, rows = q8 ? 160 + 64 * c : 261, tokens = 1 + 4 * c;
            const size_t eb = q8 ? sizeof(csimd_block_q8) : type == 2 ? 4 : 2;
            const int64_t ae = q8 ? rank * cols / 32 : rank * cols, be = q8 ? rank * rows / 32 : rank * rows;
            void *a = malloc(ae * eb), *bt = malloc(be * eb);
            if (q8) { fill_q8(a, ae, 0); fill_q8(bt, be, 0); }
            else if (type == 2) { for (int64_t i = 0; i < ae; i++) ((float *)a)[i] = gauss() * 0.05f;
                                  for (int64_t i = 0; i < be; i++) ((float *)bt)[i] = gauss() * 0.05f; }
            else { fill_f16(a, ae, 0.05f); fill_f16(bt, be, 0.05f); }
            float *x = malloc(tokens * cols * 4), *y = malloc(tokens * rows * 4), *yr = malloc(tokens * rows * 4);
            float *s1 = malloc(tokens * rank * 4), *s2 = malloc(tokens * rank * 4);
            fill_act(x, tokens * cols, 0);
            for (int64_t i = 0; i < tokens * rows; i++) y[i] = yr[i] = gauss();
            const csimd_lora m = {a, bt, rank, cols, rows, q8 ? CSIMD_TYPE_Q8 : type == 2 ? CSIMD_TYPE_F32 : CSIMD_TYPE_F16};
            CHECK(csimd_lora_apply(&m, x, tokens, 2.0f, s1, y, TEAM) == 0, "lora_apply refused");
            CHECK(csimd_lora_apply_ref(&m, x, tokens, 2.0f, s2, yr) == 0, "lora_apply_ref refused");
            double worst = 0, dmax = 0;
            for (int64_t i = 0; i < tokens * rows; i++) {
                worst = fmax(worst, fabs((double)y[i] - yr[i]));
                dmax = fmax(dmax, fabs((double)yr[i]));
            }
            CHECK(worst <= 1e-5 * (dmax + 1), "lora_apply %s rank %lld: max diff %g (|y| %g)", q8 ? "q8" : type == 2 ? "f32" : "f16",
                  (long long)rank, worst, dmax);
            free(a), free(bt), free(x), free(y), free(yr), free(s1), free(s2);
        }
    const csimd_lora bad = {NULL, NULL, 4, 33, 64, CSIMD_TYPE_Q8};
    float dummy = 0;
    CHECK(csimd_lora_apply(&bad, &dummy, 1, 1.0f, &dummy, &dummy, TEAM) == -1, "q8 LoRA with 33 columns must be refused");
}

int main(void) {
    static const char *names[] = {"scalar", "avx2", "avx2-vnni", "avx512-vnni", "avx512-vbmi", "neon", "neon-dotprod"};
    printf("default path: %s\n", csimd_kernel_name());
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (csimd_kernel_force(names[i]) != 0) {
            printf("skip %s (not supported here)\n", names[i]);
            continue;
        }
        path_name = names[i];
        const int before = failed;
        test_quantize();
        test_q4_weighted();
        test_grid_quantize();
        test_dots();
        test_fdots();
        test_matmul();
        test_matmul_f();
        test_tiles();
        test_batch_independence();
        test_r16();
        test_r16_grids();
        test_attention();
        test_covariance_tile();
        test_lora();
        printf("path %-12s %s\n", names[i], failed == before ? "ok" : "FAILED");
    }
    path_name = "compensated";
    // Seeded here, so the data do not depend on how many kernel paths ran before.
    enum { DRAWS = 4 };
    for (int d = 1; d <= DRAWS; d++) {
        rng = 0x9E3779B97F4A7C15ULL * (uint64_t)d;
        test_compensated();
    }
    for (int type = 0; type < 2; type++)
        CHECK(compensated_ratio_sum[type] / DRAWS < 0.85, "grid %d: compensated / plain output error %g on average", type,
              compensated_ratio_sum[type] / DRAWS);
    path_name = "api";
    CHECK(csimd_kernel_force("no-such-path") == -1, "unknown name must return -1");
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
