// Micro benchmark of the non-matmul ops: GELU ns/element (csimd_gelu_ref vs csimd_gelu) and causal
// attention over a prompt (csimd_attention_ref vs csimd_attention_f32 / _f16). Not a test: no assertions.
// Build and run: tools/bench/csimd/run.sh ops [n_tokens n_heads head_dim path threads]   (defaults 512 32 80, the best
// path, the logical CPUs)
#include "csimd.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const int64_t nt = argc > 1 ? atoll(argv[1]) : 512, nh = argc > 2 ? atoll(argv[2]) : 32;
    const int64_t hd = argc > 3 ? atoll(argv[3]) : 80;
    if (argc > 4 && csimd_kernel_force(argv[4]) != 0) { fprintf(stderr, "unknown path %s\n", argv[4]); return 1; }
    const int32_t threads = argc > 5 ? atoi(argv[5]) : (int32_t)sysconf(_SC_NPROCESSORS_ONLN);
    printf("path %s, threads %d\n", csimd_kernel_name(), threads);

    // GELU over one MLP activation of a 512-token prompt on the 3b model: 512 x 10240.
    const int64_t n = 512 * 10240;
    float *x = malloc(n * sizeof(float));
    for (int pass = 0; pass < 2; pass++) {
        double best = 1e9;
        for (int rep = 0; rep < 5; rep++) {
            for (int64_t i = 0; i < n; i++) x[i] = (float)((i * 7919) % 2000) / 250.0f - 4.0f;
            const double t0 = now();
            if (pass) csimd_gelu(x, n, threads); else csimd_gelu_ref(x, n);
            const double dt = now() - t0;
            if (dt < best) best = dt;
        }
        printf("%-16s n %lld: %.3f ms, %.3f ns/element\n", pass ? "csimd_gelu" : "csimd_gelu_ref", (long long)n,
               best * 1e3, best * 1e9 / n);
    }

    const int64_t width = nh * hd;
    float *q = malloc(nt * width * 4), *k = malloc(nt * width * 4), *v = malloc(nt * width * 4), *out = malloc(nt * width * 4);
    uint16_t *kh = malloc(nt * width * 2), *vh = malloc(nt * width * 2);
    float *scratch = malloc((size_t)threads * nt * 4);
    for (int64_t i = 0; i < nt * width; i++) {
        q[i] = (float)((i * 31) % 1000) / 500.0f - 1.0f;
        k[i] = (float)((i * 17) % 1000) / 500.0f - 1.0f;
        v[i] = (float)((i * 13) % 1000) / 500.0f - 1.0f;
    }
    csimd_f32_to_f16_row(k, nt * width, kh);
    csimd_f32_to_f16_row(v, nt * width, vh);
    const float scale = 1.0f / sqrtf((float)hd);
    const char *names[] = {"csimd_attention_ref", "attention_f32", "attention_f16"};
    for (int which = 0; which < 3; which++) {
        for (int mode = 0; mode < 2; mode++) {  // prompt: all tokens at once; decode: last token over the full cache
            const int64_t pos0 = mode ? nt - 1 : 0, ntok = mode ? 1 : nt;
            const int reps = mode ? 50 : 3;
            double best = 1e9;
            for (int rep = 0; rep < reps; rep++) {
                const double t0 = now();
                if (which == 0) csimd_attention_ref(q, width, hd, k, v, nh, hd, hd, width, pos0, ntok, scale, scratch, out);
                else if (which == 1) csimd_attention_f32(q, width, hd, k, v, nh, hd, hd, width, pos0, ntok, scale, scratch, out, threads);
                else csimd_attention_f16(q, width, hd, kh, vh, nh, hd, hd, width, pos0, ntok, scale, scratch, out, threads);
                const double dt = now() - t0;
                if (dt < best) best = dt;
            }
            printf("%-16s %s (%lld tok x %lld heads x %lld): %.3f ms\n", names[which], mode ? "decode 1 at pos" : "prompt",
                   (long long)nt, (long long)nh, (long long)hd, best * 1e3);
        }
    }
    return 0;
}
