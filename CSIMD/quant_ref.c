// Scalar reference quantizers and dot products: the specification every SIMD path must match.
#include "csimd_blocks.h"
#include <math.h>
#include <string.h>

float csimd_f16_to_f32(uint16_t h) {
    _Float16 v;
    memcpy(&v, &h, 2);
    return (float)v;
}

uint16_t csimd_f32_to_f16(float f) {
    _Float16 v = (_Float16)f;
    uint16_t h;
    memcpy(&h, &v, 2);
    return h;
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

void csimd_q8_quantize_ref(const float *x, int64_t n, csimd_block_q8 *out) {
    for (int64_t b = 0; b < n / CSIMD_BLOCK_SIZE; b++) {
        const float *xb = x + b * CSIMD_BLOCK_SIZE;
        float amax = 0.0f;
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) amax = fmaxf(amax, fabsf(xb[j]));
        // Quantize with the scale as stored (rounded to half), so stored values and scale agree.
        const uint16_t dh = csimd_f32_to_f16(amax / 127.0f);
        const float d = csimd_f16_to_f32(dh);
        const float id = d > 0.0f ? 1.0f / d : 0.0f;
        out[b].d = dh;
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) out[b].qs[j] = (int8_t)clampi((int)lrintf(xb[j] * id), -127, 127);
    }
}

void csimd_q8_dequantize_ref(const csimd_block_q8 *blocks, int64_t n, float *out) {
    for (int64_t b = 0; b < n / CSIMD_BLOCK_SIZE; b++) {
        const float d = csimd_f16_to_f32(blocks[b].d);
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) out[b * CSIMD_BLOCK_SIZE + j] = d * blocks[b].qs[j];
    }
}

/// Round half to even for |v| < 2^22 with plain float adds: vectorizes on baseline SSE2 (where
/// lrintf/rintf would not) and agrees with lrintf in the default rounding mode.
static inline float round_even(float v) {
    const float magic = 12582912.0f;  // 1.5 * 2^23
    return (v + magic) - magic;
}

static void q4_pack(const float *xb, float d, csimd_block_q4 *out) {
    const uint16_t dh = csimd_f32_to_f16(d);
    const float dr = csimd_f16_to_f32(dh);
    const float id = dr != 0.0f ? 1.0f / dr : 0.0f;
    out->d = dh;
    for (int j = 0; j < 16; j++) {
        const int lo = (int)round_even(fminf(fmaxf(xb[j] * id, -8.0f), 7.0f)) + 8;
        const int hi = (int)round_even(fminf(fmaxf(xb[j + 16] * id, -8.0f), 7.0f)) + 8;
        out->qs[j] = (uint8_t)(lo | (hi << 4));
    }
}

/// Weighted squared error sum_j w_j (x_j - s q_j)^2 of quantizing with scale d, minimised over s for
/// the chosen levels, and that least-squares scale. w NULL: every weight 1 (the same arithmetic, since
/// multiplying by 1 is exact). Written branch-free over the block so the compiler vectorizes it: the
/// converter runs it about twenty times per block of every matrix.
static float q4_trial(const float *xb, const float *wb, float d, float *refit) {
    const float id = 1.0f / d;
    // Eight independent partial sums: a fixed summation order the compiler can keep in one vector.
    float sxq[8] = {0}, sqq[8] = {0}, sxx[8] = {0};
    for (int j0 = 0; j0 < CSIMD_BLOCK_SIZE; j0 += 8) {
        for (int l = 0; l < 8; l++) {
            const float x = xb[j0 + l], w = wb ? wb[j0 + l] : 1.0f;
            const float q = round_even(fminf(fmaxf(x * id, -8.0f), 7.0f));
            sxq[l] += w * x * q;
            sqq[l] += w * q * q;
            sxx[l] += w * x * x;
        }
    }
    float a = 0.0f, b = 0.0f, c = 0.0f;
    for (int l = 0; l < 8; l++) {
        a += sxq[l];
        b += sqq[l];
        c += sxx[l];
    }
    *refit = b > 0.0f ? a / b : d;
    // sum w (x - s q)^2 = sxx - 2 s sxq + s^2 sqq, minimal at the refit s.
    return b > 0.0f ? c - a * a / b : c;
}

void csimd_q4_quantize_weighted_ref(const float *x, const float *weights, int64_t n, csimd_block_q4 *out) {
    for (int64_t b = 0; b < n / CSIMD_BLOCK_SIZE; b++) {
        const float *xb = x + b * CSIMD_BLOCK_SIZE;
        const float *wb = weights ? weights + b * CSIMD_BLOCK_SIZE : NULL;
        float amax = 0.0f, peak = 0.0f;
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) {
            if (fabsf(xb[j]) > amax) { amax = fabsf(xb[j]); peak = xb[j]; }
        }
        if (amax == 0.0f) {
            q4_pack(xb, 0.0f, &out[b]);
            continue;
        }
        // Candidates map the block's peak to level -6 .. -8.5 (the negative side reaches -8, so a
        // negative scale gains a level over absmax/7), plus absmax/7 itself; each is refit by least squares.
        float best_d = peak / 7.0f, best_err = q4_trial(xb, wb, peak / 7.0f, &best_d);
        for (int k = 0; k <= 10; k++) {
            const float level = 6.0f + 0.25f * (float)k;
            float refit;
            const float err = q4_trial(xb, wb, -peak / level, &refit);
            if (err < best_err) { best_err = err; best_d = refit; }
        }
        // Unweighted, re-rounding at the refit scale picks each value's nearest level, so it can only
        // lower the error; weighted, it is the rounding the kernels will see either way.
        q4_pack(xb, best_d, &out[b]);
    }
}

void csimd_q4_quantize_ref(const float *x, int64_t n, csimd_block_q4 *out) {
    csimd_q4_quantize_weighted_ref(x, NULL, n, out);
}

void csimd_q4_quantize_absmax_ref(const float *x, int64_t n, csimd_block_q4 *out) {
    for (int64_t b = 0; b < n / CSIMD_BLOCK_SIZE; b++) {
        const float *xb = x + b * CSIMD_BLOCK_SIZE;
        float amax = 0.0f;
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) amax = fmaxf(amax, fabsf(xb[j]));
        q4_pack(xb, amax / 7.0f, &out[b]);
    }
}

/// The 16 values a nibble stands for: Q4's n - 8, Q4N's grid.
static const int8_t Q4_VALUES[16] = {-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7};

/// Blocks of the nibble layout (Q4, Q4N: d, then values 0..15 in the low and 16..31 in the high nibbles).
static void nibble_dequantize(const csimd_block_q4 *blocks, int64_t n, const int8_t value[16], float *out) {
    for (int64_t b = 0; b < n / CSIMD_BLOCK_SIZE; b++) {
        const float d = csimd_f16_to_f32(blocks[b].d);
        float *o = out + b * CSIMD_BLOCK_SIZE;
        for (int j = 0; j < 16; j++) {
            o[j] = d * (float)value[blocks[b].qs[j] & 0x0F];
            o[j + 16] = d * (float)value[blocks[b].qs[j] >> 4];
        }
    }
}

static float nibble_dot(const csimd_block_q4 *w, const csimd_block_q8a *a, int64_t nb, const int8_t value[16]) {
    float acc = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t s = 0;
        for (int j = 0; j < 16; j++) {
            s += (int32_t)value[w[b].qs[j] & 0x0F] * (int32_t)a[b].qs[j];
            s += (int32_t)value[w[b].qs[j] >> 4] * (int32_t)a[b].qs[j + 16];
        }
        acc += csimd_f16_to_f32(w[b].d) * a[b].d * (float)s;
    }
    return acc;
}

void csimd_q4_dequantize_ref(const csimd_block_q4 *blocks, int64_t n, float *out) {
    nibble_dequantize(blocks, n, Q4_VALUES, out);
}

void csimd_q8a_quantize_ref(const float *x, int64_t n, csimd_block_q8a *out) {
    for (int64_t b = 0; b < n / CSIMD_BLOCK_SIZE; b++) {
        const float *xb = x + b * CSIMD_BLOCK_SIZE;
        float amax = 0.0f;
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) amax = fmaxf(amax, fabsf(xb[j]));
        const float d = amax / 127.0f;
        const float id = d > 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) {
            const int q = clampi((int)lrintf(xb[j] * id), -127, 127);
            out[b].qs[j] = (int8_t)q;
            sum += q;
        }
        out[b].d = d;
        out[b].sum = (int16_t)sum;
        out[b].reserved = 0;
    }
}

float csimd_dot_q8_q8a_ref(const csimd_block_q8 *w, const csimd_block_q8a *a, int64_t nb) {
    float acc = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t s = 0;
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) s += (int32_t)w[b].qs[j] * (int32_t)a[b].qs[j];
        acc += csimd_f16_to_f32(w[b].d) * a[b].d * (float)s;
    }
    return acc;
}

float csimd_dot_q4_q8a_ref(const csimd_block_q4 *w, const csimd_block_q8a *a, int64_t nb) {
    return nibble_dot(w, a, nb, Q4_VALUES);
}

// ---- Non-uniform grids (Q4N, Q3N) ----

const int8_t CSIMD_Q4N_GRID[16] = CSIMD_Q4N_GRID_INIT;
const int8_t CSIMD_Q3N_GRID[8] = CSIMD_Q3N_GRID_INIT;

/// A grid's levels as floats, the midpoints between neighbours and the steps between levels, made once
/// per call.
typedef struct {
    float level[16], mid[15], step[15];
    int levels;
} grid_table;

static grid_table grid_table_of(const int8_t *grid, int levels) {
    grid_table t = {.levels = levels};
    for (int k = 0; k < levels; k++) t.level[k] = (float)grid[k];
    for (int k = 0; k + 1 < levels; k++) {
        t.mid[k] = 0.5f * (t.level[k] + t.level[k + 1]);
        t.step[k] = t.level[k + 1] - t.level[k];
    }
    return t;
}

/// Index of the level nearest v (ties go up): a count of midpoints at or below v, branch-free.
static inline int grid_nearest(float v, const grid_table *g) {
    int k = 0;
    for (int m = 0; m < g->levels - 1; m++) k += v >= g->mid[m];
    return k;
}

/// Weighted squared error of block xb at scale d with nearest levels, after the least-squares refit
/// of the scale (returned in *refit); sxx is the block's sum of w x^2.
/// The nearest level is summed from the steps of the midpoints at or below v rather than looked up
/// (the levels are integers, so the sum is exact), one midpoint at a time over the whole block, and the
/// sums run in eight lanes: every loop is a vector loop (3b-shaped q4 conversion 96.7 -> 54.4 s,
/// BENCHMARKS.md "Better bits").
static float grid_trial(const float *xb, const float *wb, float sxx, float d, const grid_table *g, float *refit) {
    const float id = 1.0f / d;
    float q[CSIMD_BLOCK_SIZE];
    for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) q[j] = g->level[0];
    for (int m = 0; m < g->levels - 1; m++) {
        const float mid = g->mid[m], step = g->step[m];
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) q[j] += xb[j] * id >= mid ? step : 0.0f;
    }
    float sxq[8] = {0}, sqq[8] = {0};
    for (int j0 = 0; j0 < CSIMD_BLOCK_SIZE; j0 += 8)
        for (int l = 0; l < 8; l++) {
            const float x = xb[j0 + l], w = wb ? wb[j0 + l] : 1.0f, v = q[j0 + l];
            sxq[l] += w * x * v;
            sqq[l] += w * v * v;
        }
    float a = 0.0f, b = 0.0f;
    for (int l = 0; l < 8; l++) {
        a += sxq[l];
        b += sqq[l];
    }
    *refit = b > 0.0f ? a / b : d;
    return b > 0.0f ? sxx - a * a / b : sxx;
}

/// One block to grid indices and a half scale (csimd_q4n_quantize_weighted_ref's search).
static uint16_t grid_fit_block(const float *xb, const float *wb, const grid_table *g, uint8_t idx[CSIMD_BLOCK_SIZE]) {
    const int top = g->levels - 1;
    float amax = 0.0f;
    for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) amax = fmaxf(amax, fabsf(xb[j]));
    if (amax == 0.0f) {
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) idx[j] = (uint8_t)grid_nearest(0.0f, g);
        return 0;
    }
    float peak = 0.0f;
    for (int j = 0; j < CSIMD_BLOCK_SIZE; j++)
        if (fabsf(xb[j]) == amax) { peak = xb[j]; break; }
    float sxx = 0.0f;
    for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) sxx += (wb ? wb[j] : 1.0f) * xb[j] * xb[j];
    float best_err = INFINITY, best_d = peak / g->level[top];
    // The peak near either end: an asymmetric grid fits a block one way or the other (negative scale).
    const int symmetric = g->level[0] == -g->level[top];  // then both ends give the same trials
    for (int end = symmetric; end < 2; end++)
        for (int s = 0; s <= 18; s++) {
            const float d = peak / ((end ? g->level[top] : g->level[0]) * (0.8f + 0.025f * (float)s));
            float refit;
            const float err = grid_trial(xb, wb, sxx, d, g, &refit);
            if (err < best_err) { best_err = err; best_d = refit; }
        }
    // Nearest levels at the stored scale: each weighted term can only shrink.
    const uint16_t dh = csimd_f32_to_f16(best_d);
    const float dr = csimd_f16_to_f32(dh);
    const float id = dr != 0.0f ? 1.0f / dr : 0.0f;
    for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) idx[j] = (uint8_t)grid_nearest(xb[j] * id, g);
    return dh;
}

static void q4n_store(const uint8_t idx[CSIMD_BLOCK_SIZE], uint16_t d, csimd_block_q4n *out) {
    out->d = d;
    for (int j = 0; j < 16; j++) out->qs[j] = (uint8_t)(idx[j] | (idx[j + 16] << 4));
}

static void q3n_store(const uint8_t idx[CSIMD_BLOCK_SIZE], uint16_t d, csimd_block_q3n *out) {
    out->d = d;
    memset(out->ql, 0, sizeof out->ql);
    memset(out->qh, 0, sizeof out->qh);
    for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) {
        out->ql[j / 4] |= (uint8_t)((idx[j] & 3) << (2 * (j % 4)));
        out->qh[j / 8] |= (uint8_t)((idx[j] >> 2) << (j % 8));
    }
}

void csimd_q4n_quantize_weighted_ref(const float *x, const float *weights, int64_t n, csimd_block_q4n *out) {
    const grid_table g = grid_table_of(CSIMD_Q4N_GRID, 16);
    for (int64_t b = 0; b < n / CSIMD_BLOCK_SIZE; b++) {
        uint8_t idx[CSIMD_BLOCK_SIZE];
        const uint16_t d = grid_fit_block(x + b * CSIMD_BLOCK_SIZE, weights ? weights + b * CSIMD_BLOCK_SIZE : NULL, &g, idx);
        q4n_store(idx, d, &out[b]);
    }
}

void csimd_q3n_quantize_weighted_ref(const float *x, const float *weights, int64_t n, csimd_block_q3n *out) {
    const grid_table g = grid_table_of(CSIMD_Q3N_GRID, 8);
    for (int64_t b = 0; b < n / CSIMD_BLOCK_SIZE; b++) {
        uint8_t idx[CSIMD_BLOCK_SIZE];
        const uint16_t d = grid_fit_block(x + b * CSIMD_BLOCK_SIZE, weights ? weights + b * CSIMD_BLOCK_SIZE : NULL, &g, idx);
        q3n_store(idx, d, &out[b]);
    }
}

/// GPTQ's sweep (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative
/// Pre-trained Transformers", 2022, algorithm 1) with our grid blocks. Columns go in order; a block's
/// scale is fitted when the sweep reaches it, on the values as compensated so far; each column's
/// rounding error e, divided by the pivot U[c][c], is taken off the later columns of its band along
/// U's row c. Inside a 32-column block the update is immediate; the rest of the band gets the block's
/// 32 errors at once (the paper's lazy batch), which keeps U's rows in cache.
void csimd_grid_quantize_compensated_ref(float *w, int nr, int64_t cols, const float *weights, const float *factor,
                                         int64_t band, int levels, void *out) {
    const grid_table g = grid_table_of(levels == 16 ? CSIMD_Q4N_GRID : CSIMD_Q3N_GRID, levels);
    const int64_t nb = cols / CSIMD_BLOCK_SIZE;
    const size_t block_bytes = levels == 16 ? sizeof(csimd_block_q4n) : sizeof(csimd_block_q3n);
    const float *u = factor;
    for (int64_t b0 = 0; b0 < cols; b0 += band) {
        const int64_t bw = cols - b0 < band ? cols - b0 : band;
        for (int64_t g0 = b0; g0 < b0 + bw; g0 += CSIMD_BLOCK_SIZE) {
            float err[CSIMD_R16][CSIMD_BLOCK_SIZE];
            for (int r = 0; r < nr; r++) {
                float *wr = w + r * cols;
                uint8_t idx[CSIMD_BLOCK_SIZE];
                const uint16_t dh = grid_fit_block(wr + g0, weights ? weights + r * cols + g0 : NULL, &g, idx);
                const float d = csimd_f16_to_f32(dh), id = d != 0.0f ? 1.0f / d : 0.0f;
                for (int j = 0; j < CSIMD_BLOCK_SIZE; j++) {
                    const int64_t c = g0 + j;  // column; c - b0 its row and column in the band's U
                    const float *uc = u + (c - b0) * bw - b0;
                    idx[j] = (uint8_t)grid_nearest(wr[c] * id, &g);
                    const float e = (wr[c] - d * g.level[idx[j]]) / uc[c];
                    // Over the whole block, a fixed-length vector loop: U is zero left of its diagonal, and
                    // column c itself is not read again.
                    for (int k = 0; k < CSIMD_BLOCK_SIZE; k++) wr[g0 + k] -= e * uc[g0 + k];
                    err[r][j] = e;
                }
                uint8_t *o = (uint8_t *)out + (size_t)(r * nb + g0 / CSIMD_BLOCK_SIZE) * block_bytes;
                if (levels == 16) q4n_store(idx, dh, (csimd_block_q4n *)o);
                else q3n_store(idx, dh, (csimd_block_q3n *)o);
            }
            // Eight of the block's rows of U per pass over the rest of the band: one load and store of
            // the weight per eight multiply-adds. (3b-shaped q4 conversion with a covariance 102 s, of
            // which this sweep and the block fits about 40% each; the plain fit 54 s.)
            const int64_t rest = g0 + CSIMD_BLOCK_SIZE, end = b0 + bw;
            for (int r = 0; r < nr; r++) {
                float *wr = w + r * cols;
                for (int j = 0; j < CSIMD_BLOCK_SIZE; j += 8) {
                    const float *u0 = u + (g0 + j - b0) * bw - b0, *e = err[r] + j;
                    const float *u1 = u0 + bw, *u2 = u1 + bw, *u3 = u2 + bw, *u4 = u3 + bw, *u5 = u4 + bw, *u6 = u5 + bw,
                                *u7 = u6 + bw;
                    for (int64_t k = rest; k < end; k++)
                        wr[k] -= e[0] * u0[k] + e[1] * u1[k] + e[2] * u2[k] + e[3] * u3[k] + e[4] * u4[k] + e[5] * u5[k]
                                 + e[6] * u6[k] + e[7] * u7[k];
                }
            }
        }
        u += bw * bw;
    }
}

void csimd_q4n_dequantize_ref(const csimd_block_q4n *blocks, int64_t n, float *out) {
    nibble_dequantize((const csimd_block_q4 *)blocks, n, CSIMD_Q4N_GRID, out);
}

void csimd_q3n_dequantize_ref(const csimd_block_q3n *blocks, int64_t n, float *out) {
    for (int64_t b = 0; b < n / CSIMD_BLOCK_SIZE; b++) {
        const float d = csimd_f16_to_f32(blocks[b].d);
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++)
            out[b * CSIMD_BLOCK_SIZE + j] = d * (float)CSIMD_Q3N_GRID[csimd_q3n_index(&blocks[b], j)];
    }
}

float csimd_dot_q4n_q8a_ref(const csimd_block_q4n *w, const csimd_block_q8a *a, int64_t nb) {
    return nibble_dot((const csimd_block_q4 *)w, a, nb, CSIMD_Q4N_GRID);
}

float csimd_dot_q3n_q8a_ref(const csimd_block_q3n *w, const csimd_block_q8a *a, int64_t nb) {
    float acc = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t s = 0;
        for (int j = 0; j < CSIMD_BLOCK_SIZE; j++)
            s += (int32_t)CSIMD_Q3N_GRID[csimd_q3n_index(&w[b], j)] * (int32_t)a[b].qs[j];
        acc += csimd_f16_to_f32(w[b].d) * a[b].d * (float)s;
    }
    return acc;
}
