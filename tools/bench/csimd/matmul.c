// Micro benchmark of csimd_matrix_multiply: an R x C weight matrix times N tokens for each kernel path,
// weight type and token count; prints the time per call, GMAC/s and GB/s of weights streamed (what bounds
// a 1-token matvec). Not a test: no assertions.
// Build and run: tools/bench/csimd/run.sh matmul [options]   (options: --help, USAGE below).
// The default is the whole-machine view on Dolly 3B's MLP up-projection (decode's matvec and a prompt);
// --per-core is what one core does on every path (CPU time of the only thread).
//
// Each cell: one warm-up call, then 3 rounds of at least one call and S / 3 seconds; the best round's
// mean time per call. Weights: a fixed pseudo-random f32 matrix in [-0.5, 0.5) converted with
// csimd_rows_convert (as `dolly convert` does), so every type holds the same values.
#include "csimd.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

static int cpu_clock = 0;

static double now(void) {
    struct timespec ts;
    clock_gettime(cpu_clock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const struct { const char *name; int32_t type; } TYPES[] = {
    {"q4r16", CSIMD_TYPE_Q4R16}, {"q8r16", CSIMD_TYPE_Q8R16}, {"q4nr16", CSIMD_TYPE_Q4NR16}, {"q3nr16", CSIMD_TYPE_Q3NR16},
    {"q4", CSIMD_TYPE_Q4},       {"q8", CSIMD_TYPE_Q8},
    {"f16", CSIMD_TYPE_F16},     {"bf16", CSIMD_TYPE_BF16},   {"f32", CSIMD_TYPE_F32},
};
enum { N_TYPES = sizeof TYPES / sizeof TYPES[0], MAX_LIST = 16 };
// Fastest first, as the start-up pick prefers them.
static const char *PATHS[] = {"avx512-vbmi", "avx512-vnni", "avx2-vnni", "avx2", "neon-dotprod", "neon", "scalar"};
enum { N_PATHS = sizeof PATHS / sizeof PATHS[0] };

static const char *USAGE =
    "usage: matmul [--rows R] [--cols C] [--tokens N,...] [--types T,...] [--paths P,...|best|all]\n"
    "              [--threads N] [--clock wall|cpu] [--seconds S] [--per-core]\n"
    "  --rows R --cols C  matrix shape, C a multiple of 32 (default 10240 x 2560)\n"
    "  --tokens N,...     tokens per call (default 1,512)\n"
    "  --types T,...      q4r16 q8r16 q4nr16 q3nr16 q4 q8 f16 bf16 f32 (default q8,q4)\n"
    "  --paths P,...      kernel paths, best or all (default best)\n"
    "  --threads N        threads (default: the logical CPUs)\n"
    "  --clock wall|cpu   wall time or the calling thread's CPU time (default wall)\n"
    "  --seconds S        measuring time per cell (default 0.5; scalar S / 5)\n"
    "  --per-core         --rows 2560 --cols 2560 --tokens 1,64 --types q4r16,q8r16,q4nr16,q3nr16,q4,q8\n"
    "                     --paths all\n"
    "                     --threads 1 --clock cpu (later options override)\n";

static void usage(const char *why) {
    if (!why) { fputs(USAGE, stdout); exit(0); }
    fprintf(stderr, "matmul: %s\n%s", why, USAGE);
    exit(2);
}

// Splits a comma-separated list into at most MAX_LIST items (pointers into a copy of s).
static int split(const char *s, char **items) {
    char *copy = strdup(s), *save = NULL;
    int n = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == MAX_LIST) usage("list too long");
        items[n++] = t;
    }
    return n;
}

static int type_index(const char *name) {
    for (int i = 0; i < N_TYPES; i++) if (!strcmp(TYPES[i].name, name)) return i;
    return -1;
}

int main(int argc, char **argv) {
    int64_t rows = 10240, cols = 2560;
    const char *tokens_arg = "1,512", *types_arg = "q8,q4", *paths_arg = "best";
    int threads = 0;
    double seconds = 0.5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--per-core")) {
            rows = cols = 2560, tokens_arg = "1,64", types_arg = "q4r16,q8r16,q4nr16,q3nr16,q4,q8", paths_arg = "all";
            threads = 1, cpu_clock = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage(NULL);
        static const char *with_value[] = {"--rows", "--cols", "--tokens", "--types", "--paths", "--threads", "--seconds", "--clock"};
        int known = 0;
        for (size_t j = 0; j < sizeof with_value / sizeof with_value[0]; j++) known |= !strcmp(a, with_value[j]);
        if (!known) usage("unknown option");
        if (!v) usage("missing value");
        if (!strcmp(a, "--rows")) rows = atoll(v);
        else if (!strcmp(a, "--cols")) cols = atoll(v);
        else if (!strcmp(a, "--tokens")) tokens_arg = v;
        else if (!strcmp(a, "--types")) types_arg = v;
        else if (!strcmp(a, "--paths")) paths_arg = v;
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--clock")) {
            if (strcmp(v, "wall") && strcmp(v, "cpu")) usage("--clock is wall or cpu");
            cpu_clock = !strcmp(v, "cpu");
        }
        i++;
    }
    if (rows <= 0 || cols <= 0 || cols % 32) usage("--rows must be > 0, --cols a positive multiple of 32");

    char *items[MAX_LIST];
    int64_t toks[MAX_LIST], max_tok = 0;
    const int n_toks = split(tokens_arg, items);
    for (int k = 0; k < n_toks; k++) {
        toks[k] = atoll(items[k]);
        if (toks[k] <= 0) usage("--tokens must be positive");
        if (toks[k] > max_tok) max_tok = toks[k];
    }
    int types[MAX_LIST];
    const int n_types = split(types_arg, items);
    for (int k = 0; k < n_types; k++)
        if ((types[k] = type_index(items[k])) < 0) usage("unknown type");
    const char *best = csimd_kernel_name();  // the start-up pick, before anything is forced
    const char *paths[N_PATHS];
    int n_paths = 0;
    if (!strcmp(paths_arg, "all")) {
        for (int p = 0; p < N_PATHS; p++) if (csimd_kernel_supported(PATHS[p])) paths[n_paths++] = PATHS[p];
    } else {
        const int n = split(paths_arg, items);
        for (int k = 0; k < n; k++) {
            const char *name = !strcmp(items[k], "best") ? best : items[k];
            if (!csimd_kernel_supported(name)) { fprintf(stderr, "matmul: path %s can't run here\n", name); return 1; }
            if (n_paths < N_PATHS) paths[n_paths++] = name;
        }
    }
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cpu_clock && threads != 1)
        fprintf(stderr, "matmul: --clock cpu counts only the calling thread: with %d threads it misses the others' work\n",
                threads);

    // The same f32 values for every type (xorshift32, then conversion on all threads).
    float *w = malloc(rows * cols * sizeof(float)), *x = malloc(max_tok * cols * sizeof(float));
    float *y = malloc(max_tok * rows * sizeof(float));
    if (!w || !x || !y) { fprintf(stderr, "matmul: out of memory\n"); return 1; }
    uint32_t state = 1;
    for (int64_t i = 0; i < rows * cols; i++) {
        state ^= state << 13, state ^= state >> 17, state ^= state << 5;
        w[i] = (float)(state >> 8) / 16777216.0f - 0.5f;
    }
    for (int64_t i = 0; i < max_tok * cols; i++) {
        state ^= state << 13, state ^= state >> 17, state ^= state << 5;
        x[i] = (float)(state >> 8) / 16777216.0f - 0.5f;
    }
    const csimd_matrix src = {w, rows, cols, cols * (int64_t)sizeof(float), CSIMD_TYPE_F32};
    csimd_matrix mats[MAX_LIST];
    double bytes[MAX_LIST];  // of each converted matrix
    for (int t = 0; t < n_types; t++) {
        const int32_t type = TYPES[types[t]].type;
        const int r16 = csimd_r16_tile_bytes(type) != 0;
        const int64_t unit = csimd_type_row_bytes(type, cols), units = r16 ? (rows + 15) / 16 : rows;
        void *data = malloc(units * unit);
        if (!data || csimd_rows_convert(&src, NULL, 0, rows, type, data, threads) != 0) {
            fprintf(stderr, "matmul: can't convert to %s\n", TYPES[types[t]].name);
            return 1;
        }
        mats[t] = (csimd_matrix){data, rows, cols, unit, type};  // unit: a row, or a group of 16 rows (R16)
        bytes[t] = (double)units * unit;
    }

    printf("matrix %lld x %lld, threads %d, %s time, best path here: %s\n", (long long)rows, (long long)cols,
           threads, cpu_clock ? "CPU (calling thread)" : "wall", best);
    printf("%-12s %-6s %6s %10s %9s %9s\n", "path", "type", "tokens", "ms/call", "GMAC/s", "GB/s W");
    for (int p = 0; p < n_paths; p++) {
        if (csimd_kernel_force(paths[p]) != 0) { fprintf(stderr, "matmul: can't force %s\n", paths[p]); return 1; }
        const double budget = (strcmp(paths[p], "scalar") ? seconds : seconds / 5) / 3;
        for (int t = 0; t < n_types; t++) {
            const csimd_matrix *m = &mats[t];
            for (int k = 0; k < n_toks; k++) {
                csimd_matrix_multiply(m, x, toks[k], NULL, y, threads);  // warm up
                double best_call = 1e30;
                for (int round = 0; round < 3; round++) {
                    int64_t calls = 0;
                    const double t0 = now();
                    double t1;
                    do {
                        csimd_matrix_multiply(m, x, toks[k], NULL, y, threads);
                        calls++;
                    } while ((t1 = now()) - t0 < budget);
                    if ((t1 - t0) / calls < best_call) best_call = (t1 - t0) / calls;
                }
                printf("%-12s %-6s %6lld %10.3f %9.1f %9.1f\n", paths[p], TYPES[types[t]].name, (long long)toks[k],
                       best_call * 1e3, (double)rows * cols * toks[k] / best_call * 1e-9, bytes[t] / best_call * 1e-9);
                fflush(stdout);
            }
        }
    }
    for (int t = 0; t < n_types; t++) free((void *)mats[t].data);
    free(w), free(x), free(y);
    return 0;
}
