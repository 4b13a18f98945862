// Runtime kernel selection: the one place that asks the CPU what it can do.
// x86-64: CPUID for the instruction sets, XGETBV (XCR0) for the OS saving the YMM / ZMM state.
// aarch64: getauxval(AT_HWCAP) on Linux (ASIMD is baseline; ASIMDDP = dotprod), sysctl on Apple.
// The choice is made once, lazily and thread-safely (pthread_once), honouring DOLLY_KERNEL=<name>.
#include "csimd_kernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

// ---- The ops of each path (the matrix tables below and in kernels_*.c point at these) ----
const csimd_ops_table csimd_ops_portable = {
    csimd_attn_head_portable_f32, csimd_attn_head_portable_f16, csimd_attn_head_portable_i8,
    csimd_gelu_portable_run, csimd_f16_row_portable, csimd_covariance_tile_portable,
};
#if defined(__x86_64__)
const csimd_ops_table csimd_ops_avx2 = {
    csimd_attn_head_avx2_f32, csimd_attn_head_avx2_f16, csimd_attn_head_avx2_i8, csimd_gelu_avx2, csimd_f16_row_avx2,
    csimd_covariance_tile_avx2,
};
const csimd_ops_table csimd_ops_avx512 = {
    csimd_attn_head_avx512_f32, csimd_attn_head_avx512_f16, csimd_attn_head_avx512_i8, csimd_gelu_avx512,
    csimd_f16_row_avx512, csimd_covariance_tile_avx512,
};
#endif

static const csimd_kernel_table csimd_kernels_scalar = {
    .name = "scalar",
    .ops = &csimd_ops_portable,
    .q8a_quantize = csimd_q8a_quantize_ref,
    .dot_q8 = csimd_dot_q8_q8a_ref,
    .dot_q4 = csimd_dot_q4_q8a_ref,
    .dot_f32 = csimd_dot_f32_ref,
    .dot_f16 = csimd_dot_f16_ref,
    .dot_bf16 = csimd_dot_bf16_ref,
    .tile_q8 = NULL,
    .tile_q4 = NULL,
    .lora_down_q8 = csimd_lora_down_q8_ref,
    .lora_up_f32 = csimd_lora_up_f32_ref,
    .lora_up_f16 = csimd_lora_up_f16_ref,
    .lora_up_q8 = csimd_lora_up_q8_ref,
};

// ---- CPU features ----
typedef struct {
    int avx2, avx_vnni, avx512_vnni, avx512_vbmi, neon, neon_dotprod;
} cpu_features;

static cpu_features detect(void) {
    cpu_features f = {0};
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return f;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    const int os_ymm = (xlo & 0x6) == 0x6;     // XMM + YMM state
    const int os_zmm = (xlo & 0xE6) == 0xE6;   // plus opmask, ZMM_Hi256, Hi16_ZMM
    if (!os_ymm) return f;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 7) return f;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1;
    const int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    const int avx512vnni = (c >> 11) & 1, avx512vbmi = (c >> 1) & 1;
    const unsigned max_sub = a;
    int avxvnni = 0;
    if (max_sub >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        avxvnni = (a >> 4) & 1;
    }
    f.avx2 = avx2 && fma && f16c;
    f.avx_vnni = f.avx2 && avxvnni;
    f.avx512_vnni = f.avx2 && os_zmm && avx512f && avx512dq && avx512bw && avx512vl && avx512vnni;
    f.avx512_vbmi = f.avx512_vnni && avx512vbmi;
#elif defined(__aarch64__)
    f.neon = 1;
#if defined(__linux__)
    const unsigned long hw = getauxval(AT_HWCAP);
    f.neon_dotprod = (hw >> 20) & 1;  // HWCAP_ASIMDDP
#elif defined(__APPLE__)
    int v = 0;
    size_t len = sizeof v;
    if (sysctlbyname("hw.optional.arm.FEAT_DotProd", &v, &len, NULL, 0) == 0) f.neon_dotprod = v != 0;
#endif
#endif
    return f;
}

// ---- Paths, best first ----
typedef struct {
    const char *name;
    const csimd_kernel_table *table;
} path_entry;

static const path_entry paths[] = {
#if defined(__x86_64__)
    {"avx512-vbmi", &csimd_kernels_avx512_vbmi},
    {"avx512-vnni", &csimd_kernels_avx512_vnni},
    {"avx2-vnni", &csimd_kernels_avx2_vnni},
    {"avx2", &csimd_kernels_avx2},
#endif
#if defined(__aarch64__)
    {"neon-dotprod", &csimd_kernels_neon_dotprod},
    {"neon", &csimd_kernels_neon},
#endif
    {"scalar", &csimd_kernels_scalar},
};
#define N_PATHS (sizeof paths / sizeof paths[0])

static int runnable(const cpu_features *f, const char *name) {
    if (!strcmp(name, "scalar")) return 1;
    if (!strcmp(name, "avx2")) return f->avx2;
    if (!strcmp(name, "avx2-vnni")) return f->avx_vnni;
    if (!strcmp(name, "avx512-vnni")) return f->avx512_vnni;
    if (!strcmp(name, "avx512-vbmi")) return f->avx512_vbmi;
    if (!strcmp(name, "neon")) return f->neon;
    if (!strcmp(name, "neon-dotprod")) return f->neon_dotprod;
    return 0;
}

static cpu_features features;
static _Atomic(const csimd_kernel_table *) current;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const csimd_kernel_table *lookup(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < N_PATHS; i++)
        if (!strcmp(paths[i].name, name)) return runnable(&features, name) ? paths[i].table : NULL;
    return NULL;
}

static void init(void) {
    features = detect();
    const csimd_kernel_table *pick = NULL;
    const char *env = getenv("DOLLY_KERNEL");
    if (env && *env) {
        pick = lookup(env);
        if (!pick) fprintf(stderr, "csimd: DOLLY_KERNEL=%s is unknown or unsupported here; using the best path\n", env);
    }
    for (size_t i = 0; !pick && i < N_PATHS; i++)
        if (runnable(&features, paths[i].name)) pick = paths[i].table;
    atomic_store(&current, pick);
}

const csimd_kernel_table *csimd_kernels_current(void) {
    const csimd_kernel_table *k = atomic_load_explicit(&current, memory_order_acquire);
    if (k) return k;
    pthread_once(&once, init);
    return atomic_load(&current);
}

const char *csimd_kernel_name(void) { return csimd_kernels_current()->name; }

int32_t csimd_kernel_supported(const char *name) {
    (void)csimd_kernels_current();
    return lookup(name) ? 1 : 0;
}

int32_t csimd_kernel_force(const char *name) {
    (void)csimd_kernels_current();
    const csimd_kernel_table *k = lookup(name);
    if (!k) return -1;
    atomic_store(&current, k);
    return 0;
}

// ---- Dispatched entry points ----
void csimd_q8a_quantize(const float *x, int64_t n, csimd_block_q8a *out) { csimd_kernels_current()->q8a_quantize(x, n, out); }
float csimd_dot_q8_q8a(const csimd_block_q8 *w, const csimd_block_q8a *a, int64_t nb) { return csimd_kernels_current()->dot_q8(w, a, nb); }
float csimd_dot_q4_q8a(const csimd_block_q4 *w, const csimd_block_q8a *a, int64_t nb) { return csimd_kernels_current()->dot_q4(w, a, nb); }
float csimd_dot_f32(const float *w, const float *x, int64_t n) { return csimd_kernels_current()->dot_f32(w, x, n); }
float csimd_dot_f16(const uint16_t *w, const float *x, int64_t n) { return csimd_kernels_current()->dot_f16(w, x, n); }
float csimd_dot_bf16(const uint16_t *w, const float *x, int64_t n) { return csimd_kernels_current()->dot_bf16(w, x, n); }
