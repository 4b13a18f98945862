// Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), vectorized (formula and error in ops_simd.h):
// |csimd_gelu(x) - GELU(x)| <= 2e-6 max(1, |x|) on every path; GELU(-inf) = -0, GELU(inf) = inf,
// NaN -> NaN. The exact-libm twin is csimd_gelu_ref (ops.c).
#include "ops_simd.h"
#include <omp.h>

/// Elements per OpenMP work item; smaller arrays run on the calling thread.
#define GELU_CHUNK 16384

void csimd_gelu_portable_run(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = csimd_gelu_portable(x[i]);
}

#if defined(__x86_64__)
CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX2)
void csimd_gelu_avx2(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        _mm256_storeu_ps(x + i, csimd_gelu256(a));
        _mm256_storeu_ps(x + i + 8, csimd_gelu256(b));
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, csimd_gelu256(_mm256_loadu_ps(x + i)));
    if (i < n) {  // tail through a buffer: same arithmetic as the full vectors
        float buf[8] = {0};
        memcpy(buf, x + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(buf, csimd_gelu256(_mm256_loadu_ps(buf)));
        memcpy(x + i, buf, (size_t)(n - i) * sizeof(float));
    }
}
CSIMD_TARGET_END

CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX512)
void csimd_gelu_avx512(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        _mm512_storeu_ps(x + i, csimd_gelu512(a));
        _mm512_storeu_ps(x + i + 16, csimd_gelu512(b));
    }
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, csimd_gelu512(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(x + i, m, csimd_gelu512(_mm512_maskz_loadu_ps(m, x + i)));
    }
}
CSIMD_TARGET_END
#endif

void csimd_gelu(float *x, int64_t n) {
    if (n <= 0) return;
    void (*fn)(float *, int64_t) = csimd_kernels_current()->ops->gelu;
    const int64_t chunks = (n + GELU_CHUNK - 1) / GELU_CHUNK;
    if (chunks == 1) {
        fn(x, n);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t first = c * GELU_CHUNK;
        fn(x + first, n - first < GELU_CHUNK ? n - first : GELU_CHUNK);
    }
}
