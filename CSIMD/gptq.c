// The linear algebra of error-compensating quantization (GPTQ): input covariances accumulated over
// calibration activations, and the factor the sweep (csimd_grid_quantize_compensated_ref) runs on.
// Covariances are kept in diagonal bands of columns, so memory grows with the width, not its square.
#include "csimd_kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int64_t csimd_band_floats(int64_t cols, int64_t band) {
    if (cols <= 0 || band <= 0) return -1;
    const int64_t full = cols / band, last = cols % band;
    return full * band * band + last * last;
}

/// Tokens per pass: their band columns are copied together (512 x 512 floats, 1 MB, about L2),
/// and every tile of the band reads them from there.
enum { COV_CHUNK = 512 };

/// Tiles of the dispatched covariance kernel (AVX-512 / AVX2 FMA or portable C) over the chunk's copy,
/// whose columns are zero-padded to a multiple of 16, so edge tiles need no other code. Upper tiles
/// only (k0 + 16 > i0), mirrored afterwards. xc: COV_CHUNK x (bw rounded up to 16) floats.
static void band_accumulate(const float *x, int64_t tokens, int64_t stride, int64_t bw, float *h, float *xc,
                            int32_t n_threads) {
    const csimd_covariance_tile_fn tile = csimd_kernels_current()->ops->covariance_tile;
    const int64_t w = (bw + CSIMD_COV_TILE_K - 1) / CSIMD_COV_TILE_K * CSIMD_COV_TILE_K;
    const int64_t ti = (bw + CSIMD_COV_TILE_I - 1) / CSIMD_COV_TILE_I;
    for (int64_t t0 = 0; t0 < tokens; t0 += COV_CHUNK) {
        const int64_t n = tokens - t0 < COV_CHUNK ? tokens - t0 : COV_CHUNK;
        for (int64_t t = 0; t < n; t++) {
            memcpy(xc + t * w, x + (t0 + t) * stride, (size_t)bw * sizeof(float));
            for (int64_t c = bw; c < w; c++) xc[t * w + c] = 0.0f;
        }
#pragma omp parallel for schedule(static, 1) num_threads(csimd_team(n_threads))
        for (int64_t it = 0; it < ti; it++) {
            const int64_t i0 = it * CSIMD_COV_TILE_I;
            for (int64_t k0 = i0 - i0 % CSIMD_COV_TILE_K; k0 < bw; k0 += CSIMD_COV_TILE_K) {
                float acc[CSIMD_COV_TILE_I * CSIMD_COV_TILE_K];
                tile(xc, n, w, i0, k0, acc);  // rows and columns past bw read the padding's zeros
                for (int a = 0; a < CSIMD_COV_TILE_I && i0 + a < bw; a++)
                    for (int b = 0; b < CSIMD_COV_TILE_K && k0 + b < bw; b++)
                        if (k0 + b >= i0 + a) h[(i0 + a) * bw + k0 + b] += acc[a * CSIMD_COV_TILE_K + b];
            }
        }
    }
    for (int64_t i = 0; i < bw; i++)
        for (int64_t k = 0; k < i; k++) h[i * bw + k] = h[k * bw + i];
}

int32_t csimd_covariance_accumulate(const float *x, int64_t tokens, int64_t cols, int64_t band, float *h,
                                    int32_t n_threads) {
    if (csimd_band_floats(cols, band) < 0 || tokens < 0) return -1;
    const int64_t widest = band < cols ? band : cols;
    const int64_t w = (widest + CSIMD_COV_TILE_K - 1) / CSIMD_COV_TILE_K * CSIMD_COV_TILE_K;
    float *xc = malloc(sizeof(float) * (size_t)(COV_CHUNK * w));
    if (!xc) return -2;
    for (int64_t b0 = 0; b0 < cols; b0 += band) {
        const int64_t bw = cols - b0 < band ? cols - b0 : band;
        band_accumulate(x + b0, tokens, cols, bw, h, xc, n_threads);
        h += bw * bw;
    }
    free(xc);
    return 0;
}

/// In place, lower Cholesky factor of the n x n row-major a (upper part left as is); -1 when a pivot
/// is not positive.
static int cholesky_lower(double *a, int64_t n) {
    for (int64_t j = 0; j < n; j++) {
        const double *aj = a + j * n;
        double s = aj[j];
        for (int64_t k = 0; k < j; k++) s -= aj[k] * aj[k];
        if (!(s > 0.0)) return -1;
        const double p = sqrt(s);
        a[j * n + j] = p;
        for (int64_t i = j + 1; i < n; i++) {
            double *ai = a + i * n;
            double t = ai[j];
            for (int64_t k = 0; k < j; k++) t -= ai[k] * aj[k];
            ai[j] = t / p;
        }
    }
    return 0;
}

/// One band: U upper with U^T U = (H + damp I)^-1. With J the order reversal, Cholesky of J A J = L L^T
/// gives A = V V^T with V = J L J upper, so A^-1 = V^-T V^-1 and U = V^-1: one factorization and one
/// triangular inverse, no explicit inverse of A.
static int factor_band(const float *h, int64_t n, double damp, double *a, float *u) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < n; k++) a[i * n + k] = h[(n - 1 - i) * n + (n - 1 - k)];
    for (int64_t i = 0; i < n; i++) {
        double *d = &a[i * n + i];
        // A column no calibration token reached: nothing to compensate through it.
        if (*d <= 0.0) {
            for (int64_t k = 0; k < n; k++) a[i * n + k] = a[k * n + i] = 0.0;
            *d = 1.0;
        }
        *d += damp;
    }
    if (cholesky_lower(a, n) != 0) return -1;
    // V[i][k] = L[n-1-i][n-1-k] for k >= i. U = V^-1 by back substitution, row i from the bottom up:
    // U[i][i] = 1 / V[i][i], U[i][j] = -(sum_{i<k<=j} V[i][k] U[k][j]) / V[i][i].
#define V(i, k) a[(n - 1 - (i)) * n + (n - 1 - (k))]
    double *row = malloc((size_t)n * sizeof(double));
    double *ud = malloc((size_t)n * n * sizeof(double));
    if (!row || !ud) {
        free(row);
        free(ud);
        return -2;
    }
    for (int64_t i = n - 1; i >= 0; i--) {
        const double vii = V(i, i);
        for (int64_t j = 0; j < n; j++) row[j] = 0.0;
        for (int64_t k = i + 1; k < n; k++) {
            const double vik = V(i, k);
            const double *uk = ud + k * n;
            for (int64_t j = k; j < n; j++) row[j] += vik * uk[j];
        }
        double *ui = ud + i * n;
        for (int64_t j = 0; j < i; j++) ui[j] = 0.0;
        ui[i] = 1.0 / vii;
        for (int64_t j = i + 1; j < n; j++) ui[j] = -row[j] / vii;
    }
#undef V
    for (int64_t i = 0; i < n * n; i++) u[i] = (float)ud[i];
    free(row);
    free(ud);
    return 0;
}

int32_t csimd_gptq_factor(const float *h, int64_t cols, int64_t band, double damp_fraction, float *u,
                          int32_t n_threads) {
    if (csimd_band_floats(cols, band) < 0 || !(damp_fraction >= 0.0)) return -1;
    // The damping is a fraction of the mean diagonal over all the columns, as in GPTQ's reference code.
    double diag = 0.0;
    int64_t at = 0;
    for (int64_t b0 = 0; b0 < cols; b0 += band) {
        const int64_t bw = cols - b0 < band ? cols - b0 : band;
        for (int64_t i = 0; i < bw; i++) diag += h[at + i * bw + i];
        at += bw * bw;
    }
    const double damp = damp_fraction * diag / (double)cols;
    const int64_t bands = (cols + band - 1) / band;
    int32_t status = 0;
#pragma omp parallel for schedule(static, 1) num_threads(csimd_team(n_threads))
    for (int64_t b = 0; b < bands; b++) {
        const int64_t b0 = b * band, bw = cols - b0 < band ? cols - b0 : band;
        const int64_t off = b0 / band * band * band;  // all earlier bands are full
        double *a = malloc((size_t)(bw * bw) * sizeof(double));
        const int r = a ? factor_band(h + off, bw, damp, a, u + off) : -2;
        free(a);
        if (r != 0) {
#pragma omp atomic write
            status = r;
        }
    }
    return status;
}
