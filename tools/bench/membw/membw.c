// Memory read bandwidth, the ceiling of token generation (every weight byte is read once per token).
// Streams a buffer much larger than the caches with T OpenMP threads, each summing its own slice
// with 32-byte loads (compiled with -O2 -mavx2 so any x86-64 with AVX2 can run it). Reports the
// median GB/s of the passes.
#include <omp.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const size_t bytes = (size_t)(argc > 1 ? atof(argv[1]) : 2.0) * (1u << 30);
    const int passes = argc > 2 ? atoi(argv[2]) : 7;
    uint8_t *buf = aligned_alloc(64, bytes);
    if (!buf) return 1;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < bytes; i += 4096) memset(buf + i, (int)(i >> 12), 4096);
    double gbs[64];
    volatile long long sink = 0;
    for (int p = 0; p < passes && p < 64; p++) {
        const double t0 = now();
        long long total = 0;
#pragma omp parallel reduction(+ : total)
        {
            const int nth = omp_get_num_threads(), tid = omp_get_thread_num();
            const size_t chunk = bytes / nth / 128 * 128;
            const __m256i *q = (const __m256i *)(buf + chunk * tid);
            __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
            for (size_t i = 0; i < chunk / 32; i += 4) {
                a0 = _mm256_add_epi64(a0, _mm256_load_si256(q + i));
                a1 = _mm256_add_epi64(a1, _mm256_load_si256(q + i + 1));
                a2 = _mm256_add_epi64(a2, _mm256_load_si256(q + i + 2));
                a3 = _mm256_add_epi64(a3, _mm256_load_si256(q + i + 3));
            }
            __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
            long long v[4];
            memcpy(v, &s, 32);
            total += v[0] + v[1] + v[2] + v[3];
        }
        sink += total;
        gbs[p] = bytes / (now() - t0) / 1e9;
    }
    qsort(gbs, passes, sizeof(double), cmp);
    printf("read bandwidth: %.1f GB/s (median of %d passes over %.1f GiB, %d threads)\n", gbs[passes / 2], passes,
           bytes / 1073741824.0, omp_get_max_threads());
    return sink == 42;
}
