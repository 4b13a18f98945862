// CSIMD: the numeric kernels of the Dolly runtime (C, OpenMP).
// API style: csimd_<noun>_<verb>, sized integers, errors returned, never fatal.
#ifndef CSIMD_H
#define CSIMD_H

#include <stddef.h>
#include <stdint.h>
#include "csimd_blocks.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Element/block types of a weight matrix. Values are stored in our file format: never renumber.
typedef enum {
    CSIMD_TYPE_F32 = 0,
    CSIMD_TYPE_F16 = 1,
    CSIMD_TYPE_BF16 = 2,
    CSIMD_TYPE_Q8 = 8,
    CSIMD_TYPE_Q4 = 9,
    CSIMD_TYPE_Q8R16 = 10,  // Q8 blocks interleaved by groups of 16 rows (csimd_blocks.h)
    CSIMD_TYPE_Q4R16 = 11,  // Q4 blocks interleaved by groups of 16 rows (csimd_blocks.h)
    CSIMD_TYPE_Q4NR16 = 12, // Q4N (non-uniform 4-bit grid) blocks interleaved by groups of 16 rows
    CSIMD_TYPE_Q3NR16 = 13, // Q3N (non-uniform 3-bit grid) blocks interleaved by groups of 16 rows
} csimd_type;

/// A row-major weight matrix used in place (e.g. from a mapped file).
typedef struct {
    const void *data;   // (rows, cols) elements or blocks of `type`
    int64_t rows;
    int64_t cols;
    int64_t row_bytes;  // stride between rows in bytes; for *R16 types, between groups of 16 rows
    int32_t type;       // csimd_type
} csimd_matrix;

// ---- Threads ----
//
// Every function that runs in parallel takes its team size, n_threads, as its last parameter and runs
// exactly that many OpenMP threads (fewer only for work too small to share; values below 1 mean 1).
// The count is never read from OpenMP's per-OS-thread state (omp_set_num_threads, OMP_NUM_THREADS),
// so a kernel called from any host thread (a server's engine thread, a Dispatch queue, a C API
// caller) runs the team its caller sized its buffers for.

/// y[t, r] = sum_c W[r, c] * x[t, c] (+ bias[r] if bias != NULL) for t < n_tokens.
/// x is (n_tokens, cols) f32, y is (n_tokens, rows) f32, on n_threads threads. Returns 0, or -1 for an
/// unsupported type.
/// Q8/Q4 weights (row_bytes = cols / 32 * block size; cols must be a multiple of 32, else -1):
/// x is quantized to Q8A once per call (into a grow-only scratch owned by the calling thread, so
/// concurrent calls from different threads are safe), then integer dot products.
int32_t csimd_matrix_multiply(const csimd_matrix *w, const float *x, int64_t n_tokens,
                              const float *bias, float *y, int32_t n_threads);

/// Widens row `row` (all `cols` elements, any type incl. Q8/Q4) to f32. Returns 0, or -1 for an unknown type.
int32_t csimd_matrix_row_dequantize(const csimd_matrix *w, int64_t row, float *out);

/// A LoRA update added to widened weight rows (lora.c), on n_threads threads: for i < n_rows, with
/// hf = row_map ? row_map[first_row + i] : first_row + i (the row in Hugging Face's order, B's row),
/// out[i] = row(src, source_reordered ? first_row + i : hf) widened to f32, plus sum_k b[hf][k] * a[k]
/// (a: rank x cols, b: outputs x rank, every scale already in b). out holds n_rows x cols floats.
/// Returns 0, or -1 for bad arguments or an unknown source type.
int32_t csimd_lora_merge_rows(const csimd_matrix *src, const int64_t *row_map, int32_t source_reordered,
                              int64_t first_row, int64_t n_rows, const float *a, const float *b, int64_t rank,
                              float *out, int32_t n_threads);

// ---- Low-rank adapters (LoRA, lora.c) ----

/// One adapted matrix's low-rank delta, delta W = B A with A (rank, cols) and B (rows, rank). B is kept
/// transposed, bt (rank, rows), so that the up projection adds `rank` scaled rows of bt to each output
/// row: contiguous, vectorizable along the outputs, each q8 block 32 outputs of one rank row.
/// type CSIMD_TYPE_F32, CSIMD_TYPE_F16 (IEEE half elements) or CSIMD_TYPE_Q8 (q8 blocks; cols and rows multiples of 32).
typedef struct {
    const void *a;      // (rank, cols) of `type`, rows back to back
    const void *bt;     // (rank, rows) of `type`, rows back to back
    int64_t rank;
    int64_t cols;       // inputs
    int64_t rows;       // outputs
    int32_t type;       // CSIMD_TYPE_F32, CSIMD_TYPE_F16 or CSIMD_TYPE_Q8
} csimd_lora;

/// y[t, r] += scale * sum_k B[r, k] * (sum_c A[k, c] * x[t, c]) for t < n_tokens: the down projection
/// into scratch (n_tokens * rank floats, overwritten), then the up projection added to y. x is
/// (n_tokens, cols), y (n_tokens, rows), f32 (activations stay f32: no Q8A rounding). On n_threads
/// threads. Returns 0, or -1 for an unsupported type or shape.
int32_t csimd_lora_apply(const csimd_lora *m, const float *x, int64_t n_tokens, float scale, float *scratch, float *y,
                         int32_t n_threads);
/// Rows of one adapter in a call of csimd_lora_apply_groups: x (n_tokens, m->cols), y (n_tokens, m->rows),
/// scratch n_tokens * m->rank floats of its own (no two groups share one).
typedef struct {
    const csimd_lora *m;
    const float *x;
    float *y;
    float *scratch;
    int64_t n_tokens;
    float scale;
} csimd_lora_group;

/// csimd_lora_apply for several groups of rows at once (a serving step's slots on different adapters),
/// in one parallel region. Each row's result is exactly what csimd_lora_apply gives it alone.
/// Returns 0, or -1 (nothing applied) when any group has an unsupported type or shape.
int32_t csimd_lora_apply_groups(const csimd_lora_group *groups, int64_t n_groups, int32_t n_threads);
/// csimd_matrix_multiply of w, then csimd_lora_apply_groups on its output (each group's x and y rows
/// inside x and y), with a result bit-identical to those two calls. On R16 weights, the up projections
/// of f16 / f32 groups of a prompt's size (8 tokens or more) run inside the product, each 16-row tile's
/// deltas added while the tile is in cache: no second pass over y. Returns 0, or -1 as either call would.
int32_t csimd_matrix_multiply_lora(const csimd_matrix *w, const float *x, int64_t n_tokens, const float *bias, float *y,
                                   const csimd_lora_group *groups, int64_t n_groups, int32_t n_threads);
/// The scalar reference of csimd_lora_apply (same contract, calling thread only; twins of every path's
/// kernels). Bound, with M_t,k = sum_c |A[k,c] x[t,c]| and P_t,r = |scale| sum_k |B[r,k] t_k|:
/// |fast - ref| <= 2 (cols + 16) 2^-24 sum_k |scale B[r,k]| M_t,k + 2 (rank + 16) 2^-24 P_t,r + 2^-23 |y|.
int32_t csimd_lora_apply_ref(const csimd_lora *m, const float *x, int64_t n_tokens, float scale, float *scratch,
                             float *y);

// ---- Interruption ----

/// Installs a SIGINT handler that only records the signal (a second SIGINT kills at once).
int32_t csimd_interrupt_install(void);
/// 1 once SIGINT has arrived.
int32_t csimd_interrupt_requested(void);
/// Forgets an earlier SIGINT (an interactive loop that stopped one answer goes on with the next).
void csimd_interrupt_clear(void);

// ---- Conversion ----

/// Bytes of one row of `cols` values stored as `type`; -1 if the type can't hold such a row
/// (block types need cols to be a multiple of 32).
int64_t csimd_type_row_bytes(int32_t type, int64_t cols);

/// Converts rows [first_row, first_row + n_rows) of `src` (f32/f16/bf16) to `dst_type`, written
/// back to back into dst (R16 types: first_row a multiple of 16, output in whole groups, rows past
/// the matrix's end zero). Output row i is source row row_map[first_row + i] (or first_row + i when
/// row_map is NULL). Runs on n_threads threads. Returns 0, -1 for an unsupported type, -2 out of memory.
int32_t csimd_rows_convert(const csimd_matrix *src, const int64_t *row_map, int64_t first_row,
                           int64_t n_rows, int32_t dst_type, void *dst, int32_t n_threads);

/// How much each weight's error counts when a row is fitted to Q4, Q4N or Q3N blocks: value j of a row gets
/// weight importance[j] (the column's mean squared activation, from `dolly imatrix`; NULL: 1), times
/// sqrt(sigma^2 + x_j^2) with magnitude != 0 (sigma^2 the row's mean square: large weights matter more).
/// factor (GPTQ, Q4N and Q3N only): csimd_gptq_factor's output for the matrix's input covariance, in bands of
/// `band` columns; the rows are then fitted by csimd_grid_quantize_compensated_ref, each rounding error
/// compensated by the later columns of its band, instead of block by block on their own.
typedef struct {
    const float *importance;  // (cols) or NULL
    int32_t magnitude;
    const float *factor;      // (csimd_band_floats(cols, band)) or NULL
    int64_t band;
} csimd_quant_weights;

/// csimd_rows_convert with Q4 / Q4N / Q3N blocks fitted for the least weighted squared error (Q8 and float types
/// are unaffected). qw NULL, or no importance and no magnitude: exactly csimd_rows_convert.
int32_t csimd_rows_convert_weighted(const csimd_matrix *src, const int64_t *row_map, int64_t first_row,
                                    int64_t n_rows, int32_t dst_type, void *dst, const csimd_quant_weights *qw,
                                    int32_t n_threads);

// ---- Input covariances for error-compensating fits (gptq.c) ----
//
// A covariance of `cols` input columns is kept as its diagonal bands: columns [b, b + band) for b a
// multiple of band (the last may be narrower, width bw), each bw x bw row-major, back to back.

/// Floats of the bands of a cols-wide covariance; -1 for a non-positive size.
int64_t csimd_band_floats(int64_t cols, int64_t band);

/// h (bands) += x^T x restricted to the bands, for x (tokens, cols) row-major, on n_threads threads.
/// Returns 0, -1 for bad sizes, -2 out of memory.
int32_t csimd_covariance_accumulate(const float *x, int64_t tokens, int64_t cols, int64_t band, float *h,
                                    int32_t n_threads);

/// For each band of the covariance h: U upper triangular with U^T U = (H_band + damp I)^-1, damp =
/// damp_fraction times the mean diagonal of all of h (a column whose diagonal is 0 is decoupled). u has h's
/// layout. Returns 0, -1 when a band is not positive definite even damped, -2 out of memory.
int32_t csimd_gptq_factor(const float *h, int64_t cols, int64_t band, double damp_fraction, float *u,
                          int32_t n_threads);

/// The scalar reference of csimd_matrix_multiply (same contract, every type). For Q8/Q4 weights the
/// activations are quantized to Q8A with csimd_q8a_quantize_ref, then csimd_dot_*_q8a_ref per element.
/// Allocates its scratch per call; for tests.
int32_t csimd_matrix_multiply_ref(const csimd_matrix *w, const float *x, int64_t n_tokens,
                                  const float *bias, float *y);

// ---- SIMD kernels, chosen at run time ----
//
// Paths: "avx512-vbmi", "avx512-vnni", "avx2-vnni", "avx2" (x86-64), "neon-dotprod", "neon" (aarch64), "scalar".
// The best path the CPU and OS support is picked once, at first use (thread-safe), unless the
// environment variable DOLLY_KERNEL=<name> names a supported path. Every kernel matches its `_ref`:
// Q8A quantization bit-exactly; Q dots compute each block's integer dot exactly and differ only in
// f32 summation order, |fast - ref| <= 2 (nb + 16) 2^-24 sum_b |dw_b da_b| sum_j |qw_j qa_j|;
// F32/F16/BF16 dots |fast - ref| <= 2 (n + 16) 2^-24 sum_i |w_i x_i|.

/// Name of the path in use.
const char *csimd_kernel_name(void);
/// Switches every kernel to the named path. Returns 0, or -1 if the name is unknown or the CPU/OS
/// cannot run it (any lower path may be forced). Not meant to race with running kernels.
int32_t csimd_kernel_force(const char *name);
/// 1 if the named path can run on this CPU/OS, else 0.
int32_t csimd_kernel_supported(const char *name);

/// Dispatched kernels (the path in use). Same contracts as the `_ref` functions.
void csimd_q8a_quantize(const float *x, int64_t n, csimd_block_q8a *out);
float csimd_dot_q8_q8a(const csimd_block_q8 *w, const csimd_block_q8a *a, int64_t nb);
float csimd_dot_q4_q8a(const csimd_block_q4 *w, const csimd_block_q8a *a, int64_t nb);
/// Dots of a weight row of n elements (any n >= 0) with an f32 vector.
float csimd_dot_f32(const float *w, const float *x, int64_t n);
float csimd_dot_f16(const uint16_t *w, const float *x, int64_t n);
float csimd_dot_bf16(const uint16_t *w, const float *x, int64_t n);

/// Scalar references of the F dots (sequential f32 sum of w[i] * x[i], i ascending).
float csimd_dot_f32_ref(const float *w, const float *x, int64_t n);
float csimd_dot_f16_ref(const uint16_t *w, const float *x, int64_t n);
float csimd_dot_bf16_ref(const uint16_t *w, const float *x, int64_t n);

// ---- Transformer building blocks (f32 activations) ----

/// LayerNorm over the last dimension of x (n_tokens, dim); y may alias x.
void csimd_layernorm(const float *x, int64_t n_tokens, int64_t dim, const float *weight,
                     const float *bias, float eps, float *y);

/// Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), in place over n values.
void csimd_gelu_ref(float *x, int64_t n);

/// NeoX rotate-half rotary embedding, in place, on the first rot_dims of each head.
/// vec holds n_heads heads, head h starting at vec + h * head_stride; cos/sin are (rot_dims / 2).
void csimd_rotary_apply(float *vec, int64_t n_heads, int64_t head_stride, int64_t rot_dims,
                        const float *cos, const float *sin);

/// Causal attention for n_tokens new queries whose keys/values are already in the cache.
/// q: token t, head h at q + t * q_token_stride + h * q_head_stride (head_dim floats).
/// k_cache/v_cache: element d of head h at position p is k_cache[h * kv_head_stride + p * kv_pos_stride + d]
/// (position-major rows: kv_head_stride = head_dim, kv_pos_stride = n_heads * head_dim; head-major
/// (n_heads, n_ctx, head_dim): kv_head_stride = n_ctx * head_dim, kv_pos_stride = head_dim).
/// Query t sits at position pos0 + t and sees positions 0 ..= pos0 + t.
/// out: (n_tokens, n_heads * head_dim). scratch: at least pos0 + n_tokens floats (the reference runs on
/// the calling thread; the fast versions below need n_threads times that).
void csimd_attention_ref(const float *q, int64_t q_token_stride, int64_t q_head_stride,
                         const float *k_cache, const float *v_cache, int64_t n_heads, int64_t head_dim,
                         int64_t kv_head_stride, int64_t kv_pos_stride, int64_t pos0, int64_t n_tokens,
                         float scale, float *scratch, float *out);

/// Exact GELU like csimd_gelu_ref, vectorized (dispatched: AVX-512, AVX2 + FMA, portable C) and
/// parallel over chunks for large n on n_threads threads: |csimd_gelu(x) - GELU(x)| <= 2e-6 max(1, |x|)
/// for finite x; GELU(-inf) = -0, GELU(inf) = inf, NaN stays NaN.
void csimd_gelu(float *x, int64_t n, int32_t n_threads);

/// csimd_attention_ref (same contract and strides; scratch at least n_threads * (pos0 + n_tokens) floats,
/// one row per thread of the team) with SIMD dots / softmax / weighted sums
/// (the runtime's cache is head-major, which keeps one head's positions contiguous for the prefetcher).
/// Differs from csimd_attention_ref only by f32 rounding (summation order, a ~1 ulp exp, the 1 / sum
/// applied after the V sum).
void csimd_attention_f32(const float *q, int64_t q_token_stride, int64_t q_head_stride,
                         const float *k_cache, const float *v_cache, int64_t n_heads, int64_t head_dim,
                         int64_t kv_head_stride, int64_t kv_pos_stride, int64_t pos0, int64_t n_tokens,
                         float scale, float *scratch, float *out, int32_t n_threads);

/// csimd_attention_f32 over an IEEE half K/V cache (f16 bit patterns, same strides). Widening is exact,
/// so it equals csimd_attention_ref run on the widened cache up to the same f32 rounding.
void csimd_attention_f16(const float *q, int64_t q_token_stride, int64_t q_head_stride,
                         const uint16_t *k_cache, const uint16_t *v_cache, int64_t n_heads, int64_t head_dim,
                         int64_t kv_head_stride, int64_t kv_pos_stride, int64_t pos0, int64_t n_tokens,
                         float scale, float *scratch, float *out, int32_t n_threads);

/// out[i] = csimd_f32_to_f16(x[i]) (round to nearest even; F16C when the path has it), e.g. to
/// append a K/V row to an f16 cache.
void csimd_f32_to_f16_row(const float *x, int64_t n, uint16_t *out);

/// csimd_attention_f32 over an 8-bit K/V cache: int8 elements at the same strides (both multiples of
/// head_dim), and one f32 scale per (position, head) row, at the row's element offset / head_dim:
/// element d of head h at position p stands for scale[o / head_dim] * cache[o + d] with
/// o = h * kv_head_stride + p * kv_pos_stride. Equals csimd_attention_ref run on that dequantized cache up to
/// f32 rounding.
void csimd_attention_q8(const float *q, int64_t q_token_stride, int64_t q_head_stride,
                        const int8_t *k_cache, const float *k_scale, const int8_t *v_cache, const float *v_scale,
                        int64_t n_heads, int64_t head_dim, int64_t kv_head_stride, int64_t kv_pos_stride,
                        int64_t pos0, int64_t n_tokens, float scale, float *scratch, float *out, int32_t n_threads);

/// Quantizes one K or V head row for csimd_attention_q8: returns d = max |x| / 127 and writes
/// out[i] = round(x[i] / d) (ties to even), so |d * out[i] - x[i]| <= d / 2. An all-zero row gives d = 0;
/// NaN elements store 0 (the row's other values keep their scale).
float csimd_kv_q8_row(const float *x, int64_t n, int8_t *out);

#ifdef __cplusplus
}
#endif
#endif
