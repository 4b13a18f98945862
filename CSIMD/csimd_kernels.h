// Private to CSIMD: the per-ISA kernel table chosen at run time by dispatch.c.
//
// Every fast kernel has a scalar `_ref` twin (quant_ref.c, matrix_ref.c) and must match it:
//  * Q8A quantization: bit-exact (same d = absmax / 127, id = 1 / d, round-to-nearest-even, clamp).
//  * Q dots: each block's integer dot (sum of qw[j] * qa[j]) is computed exactly in int32; only the
//    f32 combination sum_b dw_b * da_b * s_b is reordered. Bound, with M = sum_b |dw_b da_b| sum_j |qw_j qa_j|:
//        |fast - ref| <= 2 * (nb + 16) * 2^-24 * M.
//  * F32/F16/BF16 dots: the f16/bf16 -> f32 widening is exact; only the summation order differs.
//    Bound, with M = sum_i |w_i x_i|:  |fast - ref| <= 2 * (n + 16) * 2^-24 * M.
#ifndef CSIMD_KERNELS_H
#define CSIMD_KERNELS_H

#include "csimd.h"

/// The OpenMP team size for a caller's n_threads (csimd.h, "Threads"): at least 1.
static inline int csimd_team(int32_t n_threads) { return n_threads < 1 ? 1 : (int)n_threads; }

/// Max weight rows and activation rows a tile kernel handles in one call.
#define CSIMD_TILE_R 4
#define CSIMD_TILE_T 4

/// y[t * y_stride + r] = dot(weight row r, activation row t), r < nr <= CSIMD_TILE_R, t < nt <= CSIMD_TILE_T.
/// Weight row r starts at (const char *)w + r * w_stride; activation row t at a + t * a_stride (blocks).
typedef void (*csimd_tile_q_fn)(const void *w, int64_t w_stride, int nr, const csimd_block_q8a *a,
                                int64_t a_stride, int nt, int64_t nb, float *y, int64_t y_stride);

/// The reference twins of tile_q8 / tile_q4 (matrix_ref.c): each entry is the reference dot.
void csimd_tile_q8_ref(const void *w, int64_t w_stride, int nr, const csimd_block_q8a *a, int64_t a_stride, int nt,
                       int64_t nb, float *y, int64_t y_stride);
void csimd_tile_q4_ref(const void *w, int64_t w_stride, int nr, const csimd_block_q8a *a, int64_t a_stride, int nt,
                       int64_t nb, float *y, int64_t y_stride);

/// One R16 group (16 rows, csimd_blocks.h) against nt activation rows: same contract as csimd_r16_tile_ref.
typedef void (*csimd_tile_r16_fn)(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a,
                                  int64_t a_stride, int nt, float *y, int64_t y_stride);

/// One attention head for one query (ops_portable.c, ops_avx2.c, ops_avx512.c): scores over cache positions 0...last, softmax,
/// weighted sum of the values into o. k/v point at the head's first cached row (element type fixed per
/// entry: f32, IEEE half or int8 with per-row scales ks/vs, scale of row p at ks[p * ss]).
typedef void (*csimd_attn_head_fn)(const float *qh, const void *k, const void *v, const float *ks, const float *vs,
                                   int64_t ss, int64_t stride, int64_t hd, int64_t last, float scale, float *scores,
                                   float *o);

/// The non-matrix ops of one path. Several kernel paths share one (AVX2 and AVX2-VNNI; scalar and NEON
/// use the portable C, which the compiler vectorizes).
/// One tile of an input covariance band (gptq.c): out[a * 16 + b] = sum_t x[t * stride + i0 + a] *
/// x[t * stride + k0 + b], a < 4, b < 16. Twin: csimd_covariance_tile_ref (only the summation order differs).
#define CSIMD_COV_TILE_I 4
#define CSIMD_COV_TILE_K 16
typedef void (*csimd_covariance_tile_fn)(const float *x, int64_t tokens, int64_t stride, int64_t i0, int64_t k0,
                                         float *out);
void csimd_covariance_tile_ref(const float *x, int64_t tokens, int64_t stride, int64_t i0, int64_t k0, float *out);

typedef struct {
    csimd_attn_head_fn head_f32, head_f16, head_i8;
    void (*gelu)(float *x, int64_t n);                          // in place, one thread (csimd_gelu splits)
    void (*f16_row)(const float *x, int64_t n, uint16_t *out);  // f32 -> IEEE half, nearest even
    csimd_covariance_tile_fn covariance_tile;
} csimd_ops_table;

#define CSIMD_OPS_ENTRY_POINTS(isa)                                                                             \
    void csimd_attn_head_##isa##_f32(const float *, const void *, const void *, const float *, const float *,    \
                                     int64_t, int64_t, int64_t, int64_t, float, float *, float *);              \
    void csimd_attn_head_##isa##_f16(const float *, const void *, const void *, const float *, const float *,    \
                                     int64_t, int64_t, int64_t, int64_t, float, float *, float *);              \
    void csimd_attn_head_##isa##_i8(const float *, const void *, const void *, const float *, const float *,     \
                                    int64_t, int64_t, int64_t, int64_t, float, float *, float *);
CSIMD_OPS_ENTRY_POINTS(portable)
void csimd_gelu_portable_run(float *x, int64_t n);
void csimd_f16_row_portable(const float *x, int64_t n, uint16_t *out);
void csimd_covariance_tile_portable(const float *, int64_t, int64_t, int64_t, int64_t, float *);
#if defined(__x86_64__)
CSIMD_OPS_ENTRY_POINTS(avx2)
CSIMD_OPS_ENTRY_POINTS(avx512)
void csimd_gelu_avx2(float *x, int64_t n);
void csimd_gelu_avx512(float *x, int64_t n);
void csimd_f16_row_avx2(const float *x, int64_t n, uint16_t *out);
void csimd_f16_row_avx512(const float *x, int64_t n, uint16_t *out);
void csimd_covariance_tile_avx2(const float *, int64_t, int64_t, int64_t, int64_t, float *);
void csimd_covariance_tile_avx512(const float *, int64_t, int64_t, int64_t, int64_t, float *);
#endif

extern const csimd_ops_table csimd_ops_portable;
#if defined(__x86_64__)
extern const csimd_ops_table csimd_ops_avx2;
extern const csimd_ops_table csimd_ops_avx512;
#endif

/// Bytes ahead that the down projections prefetch along each row of A. A decoding step reads every
/// adapter's A once, cold, in rows of 2.5-20 KB: without it the hardware prefetchers left the q8
/// down projection of four adapters of dolly-v2-3b's dense_4h_to_h at 15 GB/s (tools/bench/csimd/
/// run.sh lora 2560 10240 16 4 1: 48 us a call; 27 us with it).
#define CSIMD_LORA_PREFETCH 4096

/// LoRA kernels (csimd_lora_apply runs them; twins in lora_ref.c, bounds in csimd.h):
/// down_q8: dot of one q8 row of A (nb blocks) with an f32 vector, sum_b d_b sum_j q_bj x_bj.
/// up_f16:  y[o] += s * sum_k t[k] * bt[k * stride + o] for o < n (bt IEEE half, stride in elements).
/// up_f32:  the same with f32 bt.
/// up_q8:   the same over nb q8 blocks of outputs (stride in blocks between rank rows).
typedef float (*csimd_lora_down_q8_fn)(const csimd_block_q8 *a, const float *x, int64_t nb);
typedef void (*csimd_lora_up_f32_fn)(const float *bt, int64_t rank, int64_t stride, const float *t, float s,
                                     float *y, int64_t n);
typedef void (*csimd_lora_up_f16_fn)(const uint16_t *bt, int64_t rank, int64_t stride, const float *t, float s,
                                     float *y, int64_t n);
typedef void (*csimd_lora_up_q8_fn)(const csimd_block_q8 *bt, int64_t rank, int64_t stride, const float *t, float s,
                                    float *y, int64_t nb);
float csimd_lora_down_q8_ref(const csimd_block_q8 *a, const float *x, int64_t nb);
void csimd_lora_up_f32_ref(const float *bt, int64_t rank, int64_t stride, const float *t, float s, float *y, int64_t n);
void csimd_lora_up_f16_ref(const uint16_t *bt, int64_t rank, int64_t stride, const float *t, float s, float *y, int64_t n);
void csimd_lora_up_q8_ref(const csimd_block_q8 *bt, int64_t rank, int64_t stride, const float *t, float s, float *y,
                          int64_t nb);
/// LoRA kernels over blocks of tokens, for a prompt pass or a verify pass. A token's result never
/// depends on how many tokens or rows share the call (each path fixes one order per token), so a
/// row's arithmetic is the same alone and in a batch.
/// down: out[t * out_stride + r] = row r of A (n_rows rows, cols elements each; q8: cols / 32 blocks)
///       dotted with x + t * cols, for t < n_tokens.
/// up:   the up kernel on t + j * rank (the down results of token j) into y + j * y_stride, j < n_tokens
///       (stride and n in blocks for q8, as up_q8), bit-identical to the single-token up kernel.
typedef void (*csimd_lora_down_tokens_fn)(const void *a, int64_t n_rows, int64_t cols, const float *x, int64_t n_tokens,
                                          float *out, int64_t out_stride);
typedef void (*csimd_lora_up_tokens_fn)(const void *bt, int64_t rank, int64_t stride, const float *t,
                                        int64_t n_tokens, float s, float *y, int64_t y_stride, int64_t n);
#if defined(__x86_64__)
void csimd_lora_down_f32_tokens_avx512(const void *, int64_t, int64_t, const float *, int64_t, float *, int64_t);
void csimd_lora_down_f16_tokens_avx512(const void *, int64_t, int64_t, const float *, int64_t, float *, int64_t);
void csimd_lora_down_q8_tokens_avx512(const void *, int64_t, int64_t, const float *, int64_t, float *, int64_t);
void csimd_lora_up_f32_tokens_avx512(const void *, int64_t, int64_t, const float *, int64_t, float, float *, int64_t,
                                     int64_t);
void csimd_lora_up_f16_tokens_avx512(const void *, int64_t, int64_t, const float *, int64_t, float, float *, int64_t,
                                     int64_t);
void csimd_lora_up_q8_tokens_avx512(const void *, int64_t, int64_t, const float *, int64_t, float, float *, int64_t,
                                    int64_t);
#endif
#define CSIMD_LORA_DECL(isa)                                                                                      \
    float csimd_lora_down_q8_##isa(const csimd_block_q8 *, const float *, int64_t);                               \
    void csimd_lora_up_f32_##isa(const float *, int64_t, int64_t, const float *, float, float *, int64_t);         \
    void csimd_lora_up_f16_##isa(const uint16_t *, int64_t, int64_t, const float *, float, float *, int64_t);      \
    void csimd_lora_up_q8_##isa(const csimd_block_q8 *, int64_t, int64_t, const float *, float, float *, int64_t);
#if defined(__x86_64__)
CSIMD_LORA_DECL(avx2)
CSIMD_LORA_DECL(avx512)
#endif
#if defined(__aarch64__)
CSIMD_LORA_DECL(neon)
#endif
#undef CSIMD_LORA_DECL

/// lora.c's halves of csimd_lora_apply_groups, for csimd_matrix_multiply_lora (matrix_quant.c):
/// the down projections of every group into its scratch (at most 64 groups; -1 for a bad group), and
/// one group's up projection of outputs [o, o + count) for its tokens [t0, t0 + n), calling thread
/// only, bit-identical to the same outputs in csimd_lora_apply_groups, with the kernels resolved once
/// per product (csimd_lora_kernels_of) rather than once per tile.
int32_t csimd_lora_down_groups(const csimd_lora_group *groups, int64_t n_groups, int32_t n_threads);
typedef struct csimd_lora_kernels csimd_lora_kernels;
void csimd_lora_up_slice(const csimd_lora_kernels *k, const csimd_lora_group *g, int64_t o, int64_t count, int64_t t0,
                         int64_t n);

typedef struct {
    const char *name;
    const csimd_ops_table *ops;
    void (*q8a_quantize)(const float *x, int64_t n, csimd_block_q8a *out);
    float (*dot_q8)(const csimd_block_q8 *w, const csimd_block_q8a *a, int64_t nb);
    float (*dot_q4)(const csimd_block_q4 *w, const csimd_block_q8a *a, int64_t nb);
    float (*dot_f32)(const float *w, const float *x, int64_t n);
    float (*dot_f16)(const uint16_t *w, const float *x, int64_t n);
    float (*dot_bf16)(const uint16_t *w, const float *x, int64_t n);
    csimd_tile_q_fn tile_q8;  // NULL: matrix_quant.c loops over dot_q8
    csimd_tile_q_fn tile_q4;  // NULL: matrix_quant.c loops over dot_q4
    csimd_tile_r16_fn tile_q4r16;  // NULL: csimd_r16_tile_ref
    csimd_tile_r16_fn tile_q8r16;  // NULL: csimd_r16_tile_ref
    csimd_tile_r16_fn tile_q4nr16;  // NULL: csimd_r16_tile_ref
    csimd_tile_r16_fn tile_q3nr16;  // NULL: csimd_r16_tile_ref
    // LoRA (lora.c; the f32 / f16 down projections are dot_f32 / dot_f16). NULL: the _ref twin.
    csimd_lora_down_q8_fn lora_down_q8;
    csimd_lora_up_f32_fn lora_up_f32;
    csimd_lora_up_f16_fn lora_up_f16;
    csimd_lora_up_q8_fn lora_up_q8;
    // Over blocks of tokens. NULL: lora.c loops the single-token kernels (dot_f32 / dot_f16 / lora_*).
    csimd_lora_down_tokens_fn lora_down_f32_tokens, lora_down_f16_tokens, lora_down_q8_tokens;
    csimd_lora_up_tokens_fn lora_up_f32_tokens, lora_up_f16_tokens, lora_up_q8_tokens;
} csimd_kernel_table;

/// A table's LoRA kernels with the _ref twins in place of NULL single-token entries (lora.c).
struct csimd_lora_kernels {
    float (*dot_f16)(const uint16_t *, const float *, int64_t);
    float (*dot_f32)(const float *, const float *, int64_t);
    csimd_lora_down_q8_fn down_q8;
    csimd_lora_up_f32_fn up_f32;
    csimd_lora_up_f16_fn up_f16;
    csimd_lora_up_q8_fn up_q8;
    csimd_lora_down_tokens_fn down_f32_tokens, down_f16_tokens, down_q8_tokens;
    csimd_lora_up_tokens_fn up_f32_tokens, up_f16_tokens, up_q8_tokens;
};
csimd_lora_kernels csimd_lora_kernels_of(const csimd_kernel_table *k);

/// The table's tile kernel for an R16 type (NULL: none on this path, or not an R16 type).
static inline csimd_tile_r16_fn csimd_r16_tile_fn(const csimd_kernel_table *k, int32_t type) {
    switch (type) {
    case CSIMD_TYPE_Q4R16: return k->tile_q4r16;
    case CSIMD_TYPE_Q8R16: return k->tile_q8r16;
    case CSIMD_TYPE_Q4NR16: return k->tile_q4nr16;
    case CSIMD_TYPE_Q3NR16: return k->tile_q3nr16;
    default: return NULL;
    }
}

#if defined(__x86_64__)
#define CSIMD_R16_TILE_DECL(name)                                                                                 \
    void name(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a, int64_t a_stride, int nt, float *y, \
              int64_t y_stride);
CSIMD_R16_TILE_DECL(csimd_tile_q4r16_avx2)
CSIMD_R16_TILE_DECL(csimd_tile_q8r16_avx2)
CSIMD_R16_TILE_DECL(csimd_tile_q4r16_avx2vnni)
CSIMD_R16_TILE_DECL(csimd_tile_q8r16_avx2vnni)
CSIMD_R16_TILE_DECL(csimd_tile_q4nr16_avx2)
CSIMD_R16_TILE_DECL(csimd_tile_q3nr16_avx2)
CSIMD_R16_TILE_DECL(csimd_tile_q4nr16_avx2vnni)
CSIMD_R16_TILE_DECL(csimd_tile_q3nr16_avx2vnni)
CSIMD_R16_TILE_DECL(csimd_tile_q4r16_avx512)
CSIMD_R16_TILE_DECL(csimd_tile_q8r16_avx512)
CSIMD_R16_TILE_DECL(csimd_tile_q4nr16_avx512)
CSIMD_R16_TILE_DECL(csimd_tile_q3nr16_avx512)
CSIMD_R16_TILE_DECL(csimd_tile_q4nr16_vbmi_avx512)
CSIMD_R16_TILE_DECL(csimd_tile_q3nr16_vbmi_avx512)
#undef CSIMD_R16_TILE_DECL
#endif

#if defined(__aarch64__)
#define CSIMD_R16_TILE_DECL(name)                                                                                 \
    void name(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a, int64_t a_stride, int nt, float *y, \
              int64_t y_stride);
CSIMD_R16_TILE_DECL(csimd_tile_q4r16_neon)
CSIMD_R16_TILE_DECL(csimd_tile_q8r16_neon)
CSIMD_R16_TILE_DECL(csimd_tile_q4nr16_neon)
CSIMD_R16_TILE_DECL(csimd_tile_q3nr16_neon)
CSIMD_R16_TILE_DECL(csimd_tile_q4r16_neon_dotprod)
CSIMD_R16_TILE_DECL(csimd_tile_q8r16_neon_dotprod)
CSIMD_R16_TILE_DECL(csimd_tile_q4nr16_neon_dotprod)
CSIMD_R16_TILE_DECL(csimd_tile_q3nr16_neon_dotprod)
#undef CSIMD_R16_TILE_DECL
#endif

/// The table in use (lazy, thread-safe initialization; honours DOLLY_KERNEL on first use).
const csimd_kernel_table *csimd_kernels_current(void);

#if defined(__x86_64__)
extern const csimd_kernel_table csimd_kernels_avx2;
extern const csimd_kernel_table csimd_kernels_avx2_vnni;
extern const csimd_kernel_table csimd_kernels_avx512_vnni;
extern const csimd_kernel_table csimd_kernels_avx512_vbmi;
#endif
#if defined(__aarch64__)
extern const csimd_kernel_table csimd_kernels_neon;
extern const csimd_kernel_table csimd_kernels_neon_dotprod;
#endif

#endif
