// Quantization blocks of the Dolly file format (docs/FORMAT.md). Each block is a fixed C struct
// whose size is checked at compile time; the byte layout is part of the file format.
#ifndef CSIMD_BLOCKS_H
#define CSIMD_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Weights per block, for every block type.
#define CSIMD_BLOCK_SIZE 32

/// Q8: 32 weights, w[j] = d * qs[j]. 34 bytes = 8.5 bits/weight.
typedef struct {
    uint16_t d;          // scale, IEEE half
    int8_t qs[32];       // values in [-127, 127]
} csimd_block_q8;

/// Q4: 32 weights, w[j] = d * (nibble[j] - 8). 18 bytes = 4.5 bits/weight.
/// Element j < 16 is the low nibble of qs[j]; element j + 16 is the high nibble of qs[j].
typedef struct {
    uint16_t d;          // scale, IEEE half
    uint8_t qs[16];      // two 4-bit values per byte
} csimd_block_q4;

/// Q4N: 32 weights on a non-uniform grid, w[j] = d * CSIMD_Q4N_GRID[n[j]]. 18 bytes = 4.5 bits/weight.
/// Same bytes as Q4 (nibble n[j] of qs as there); a nibble indexes the grid instead of being n - 8.
typedef struct {
    uint16_t d;          // scale, IEEE half
    uint8_t qs[16];      // two 4-bit grid indices per byte
} csimd_block_q4n;

/// Q3N: 32 weights on an 8-level non-uniform grid, w[j] = d * CSIMD_Q3N_GRID[n[j]], n[j] in 0..7.
/// 14 bytes = 3.5 bits/weight. n[j] = ((ql[j / 4] >> 2 (j % 4)) & 3) | (((qh[j / 8] >> (j % 8)) & 1) << 2).
typedef struct {
    uint16_t d;          // scale, IEEE half
    uint8_t ql[8];       // the low 2 bits of each index, four per byte
    uint8_t qh[4];       // the high bit of each index, eight per byte
} csimd_block_q3n;

/// The grids, designed by Lloyd's algorithm (1-D k-means) on the block-normalised layer weights of the
/// demo model (Q4N: blocks divided by their largest magnitude, a symmetric grid; Q3N: by their signed
/// peak, an asymmetric grid whose mirror image a negative scale gives; each measured better by KL on
/// the yardstick model than the other way, BENCHMARKS.md), then scaled to integers in [-63, 63] so a
/// grid value + 64 is an unsigned 7-bit byte: every integer kernel's products fit (AVX2's vpmaddubsw
/// pairs stay below 2^15), and one byte shuffle (vpshufb, vqtbl1q_s8) decodes an index.
#define CSIMD_Q4N_GRID_INIT {-63, -51, -41, -32, -24, -17, -10, -3, 3, 10, 17, 24, 32, 41, 51, 63}
#define CSIMD_Q3N_GRID_INIT {-52, -33, -18, -4, 9, 23, 40, 63}
extern const int8_t CSIMD_Q4N_GRID[16];
extern const int8_t CSIMD_Q3N_GRID[8];

/// Activations quantized for the integer dot products (never stored in files).
/// x[j] ~= d * qs[j]; sum = sum of qs[j] (lets unsigned-by-signed products remove their offset).
typedef struct {
    float d;
    int16_t sum;
    int16_t reserved;
    int8_t qs[32];
} csimd_block_q8a;

#if defined(__cplusplus)
static_assert(sizeof(csimd_block_q8) == 34, "Q8 block is 34 bytes");
static_assert(sizeof(csimd_block_q4) == 18, "Q4 block is 18 bytes");
static_assert(sizeof(csimd_block_q8a) == 40, "Q8A block is 40 bytes");
static_assert(sizeof(csimd_block_q4n) == 18, "Q4N block is 18 bytes");
static_assert(sizeof(csimd_block_q3n) == 14, "Q3N block is 14 bytes");
#else
_Static_assert(sizeof(csimd_block_q8) == 34, "Q8 block is 34 bytes");
_Static_assert(sizeof(csimd_block_q4) == 18, "Q4 block is 18 bytes");
_Static_assert(sizeof(csimd_block_q8a) == 40, "Q8A block is 40 bytes");
_Static_assert(sizeof(csimd_block_q4n) == 18, "Q4N block is 18 bytes");
_Static_assert(sizeof(csimd_block_q3n) == 14, "Q3N block is 14 bytes");
#endif

// ---- Row-interleaved layouts (R16): what the integer kernels stream ----
//
// A matrix of `rows` x `cols` is stored as ceil(rows / 16) groups of 16 rows (missing rows of the
// last group are zero); a group is cols / 32 tiles, one per block column b. A tile holds block b
// of each of the group's 16 rows:
//   bytes [0, 32): the 16 rows' scales d[r], IEEE half;
//   Q4R16 (288 bytes/tile): 4 vectors j of 64 bytes; byte 32 + 64j + 4r + i (r < 16, i < 4) has
//         the nibble n[r][8j + i] in its low half and n[r][8j + 4 + i] in its high half;
//   Q8R16 (544 bytes/tile): 8 vectors k of 64 bytes; byte 32 + 64k + 4r + i = q[r][4k + i] + 128.
//   Q4NR16 (288 bytes/tile): the Q4R16 arrangement of Q4N grid indices;
//   Q3NR16 (224 bytes/tile, format 1.2): 3 vectors A, B, C of 64 bytes at 32, 96, 160; with
//         n_k = n[r][4k + i], byte 4r + i of A holds n_0 in bits 0-2, n_1 in bits 3-5 and bits 0-1 of
//         n_6 in bits 6-7; of B: n_2, n_3, bit 2 of n_6 (bit 6), bit 0 of n_7 (bit 7); of C: n_4, n_5,
//         bits 1-2 of n_7 (bits 6-7). Six indices are one shift away and two merge two fields, so a
//         byte lookup that ignores index bits above 2 (vpermb on a table repeated 8 times) decodes a
//         tile in 20 operations (format 1.1's 2-bit planes plus a high-bit vector took about 30).
// So each 64-byte vector (Q3NR16: each index vector k, after unpacking) feeds one 16-lane integer dot
// step (lane r: row r's 4 consecutive weights against the same 4 activations), and a tile yields 16
// whole block dots at once. Values are those of the plain blocks: w = d * (n - 8), w = d * q,
// w = d * grid[n]. Same bits per weight.
#define CSIMD_R16 16
#define CSIMD_Q4R16_TILE 288
#define CSIMD_Q8R16_TILE 544
#define CSIMD_Q4NR16_TILE 288
#define CSIMD_Q3NR16_TILE 224
#if defined(__cplusplus)
static_assert(CSIMD_Q4R16_TILE == CSIMD_R16 * sizeof(csimd_block_q4), "a Q4R16 tile is 16 Q4 blocks");
static_assert(CSIMD_Q8R16_TILE == CSIMD_R16 * sizeof(csimd_block_q8), "a Q8R16 tile is 16 Q8 blocks");
static_assert(CSIMD_Q4NR16_TILE == CSIMD_R16 * sizeof(csimd_block_q4n), "a Q4NR16 tile is 16 Q4N blocks");
static_assert(CSIMD_Q3NR16_TILE == CSIMD_R16 * sizeof(csimd_block_q3n), "a Q3NR16 tile is 16 Q3N blocks");
#else
_Static_assert(CSIMD_Q4R16_TILE == CSIMD_R16 * sizeof(csimd_block_q4), "a Q4R16 tile is 16 Q4 blocks");
_Static_assert(CSIMD_Q8R16_TILE == CSIMD_R16 * sizeof(csimd_block_q8), "a Q8R16 tile is 16 Q8 blocks");
_Static_assert(CSIMD_Q4NR16_TILE == CSIMD_R16 * sizeof(csimd_block_q4n), "a Q4NR16 tile is 16 Q4N blocks");
_Static_assert(CSIMD_Q3NR16_TILE == CSIMD_R16 * sizeof(csimd_block_q3n), "a Q3NR16 tile is 16 Q3N blocks");
#endif

/// Packs 16 rows of Q4 (or Q8) blocks, rows[r] pointing at row r's nb blocks (NULL: a zero row),
/// into one group of nb tiles.
void csimd_q4r16_pack(const csimd_block_q4 *const rows[16], int64_t nb, uint8_t *group);
void csimd_q8r16_pack(const csimd_block_q8 *const rows[16], int64_t nb, uint8_t *group);
void csimd_q4nr16_pack(const csimd_block_q4n *const rows[16], int64_t nb, uint8_t *group);
void csimd_q3nr16_pack(const csimd_block_q3n *const rows[16], int64_t nb, uint8_t *group);
/// Row r (< 16) of a group, back to f32 (nb * 32 values).
void csimd_q4r16_row_dequantize(const uint8_t *group, int64_t nb, int r, float *out);
void csimd_q8r16_row_dequantize(const uint8_t *group, int64_t nb, int r, float *out);
void csimd_q4nr16_row_dequantize(const uint8_t *group, int64_t nb, int r, float *out);
void csimd_q3nr16_row_dequantize(const uint8_t *group, int64_t nb, int r, float *out);
/// Bytes of one tile of an R16 type (csimd_type); 0 for other types.
int64_t csimd_r16_tile_bytes(int32_t type);
/// Reference tile kernel: y[t * y_stride + r] = dot(row r of the group, activation row t) for
/// r < nr, t < nt; activation row t is a + t * a_stride (nb blocks).
void csimd_r16_tile_ref(int32_t type, const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a,
                        int64_t a_stride, int nt, float *y, int64_t y_stride);

// ---- Scalar reference quantizers (the specification; used by the converter) ----

/// n must be a multiple of 32. Scale = absmax / 127, round to nearest.
void csimd_q8_quantize_ref(const float *x, int64_t n, csimd_block_q8 *out);
void csimd_q8_dequantize_ref(const csimd_block_q8 *b, int64_t n, float *out);

/// n must be a multiple of 32. Searches candidate scales per block for the least squared error.
void csimd_q4_quantize_ref(const float *x, int64_t n, csimd_block_q4 *out);
/// The same search for the least weighted squared error sum_j weights[j] (x_j - d q_j)^2 (weights:
/// n values >= 0, e.g. how much each input column matters; NULL = all 1, i.e. csimd_q4_quantize_ref).
void csimd_q4_quantize_weighted_ref(const float *x, const float *weights, int64_t n, csimd_block_q4 *out);
/// Plain absmax rounding (scale = absmax / 7), kept to measure what the search gains.
void csimd_q4_quantize_absmax_ref(const float *x, int64_t n, csimd_block_q4 *out);
void csimd_q4_dequantize_ref(const csimd_block_q4 *b, int64_t n, float *out);

/// Grid types: per block, candidate scales map the block's peak (its value of largest magnitude) to
/// each end level of the grid times 0.8 ... 1.25 (one end of a symmetric grid), every value takes its nearest level, the scale is refit by
/// weighted least squares for those levels and the least weighted squared error wins; the values are
/// then re-rounded to their nearest levels at the kept scale (never a worse error). weights as for
/// csimd_q4_quantize_weighted_ref (NULL: all 1).
void csimd_q4n_quantize_weighted_ref(const float *x, const float *weights, int64_t n, csimd_block_q4n *out);
void csimd_q3n_quantize_weighted_ref(const float *x, const float *weights, int64_t n, csimd_block_q3n *out);
/// Error-compensating fit (GPTQ) of nr <= 16 rows of cols values (row-major, w[r * cols + c]; left
/// holding the compensated values) to Q4N (levels 16) or Q3N (levels 8) blocks, out[r * cols / 32 + b].
/// factor: for each band of `band` columns (the last may be narrower, width bw), bw x bw row-major, the
/// upper Cholesky factor U of the band's inverse input covariance (csimd_gptq_factor), bands back to
/// back. weights as for the plain fit (nr x cols, or NULL), used to fit each block's scale.
void csimd_grid_quantize_compensated_ref(float *w, int nr, int64_t cols, const float *weights, const float *factor,
                                         int64_t band, int levels, void *out);
void csimd_q4n_dequantize_ref(const csimd_block_q4n *b, int64_t n, float *out);
void csimd_q3n_dequantize_ref(const csimd_block_q3n *b, int64_t n, float *out);
/// Grid index j of a Q3N block (0..7).
static inline int csimd_q3n_index(const csimd_block_q3n *b, int j) {
    return ((b->ql[j / 4] >> (2 * (j % 4))) & 3) | (((b->qh[j / 8] >> (j % 8)) & 1) << 2);
}

/// Activations to Q8A blocks (n multiple of 32), scale = absmax / 127.
void csimd_q8a_quantize_ref(const float *x, int64_t n, csimd_block_q8a *out);

// ---- Dot products over nb blocks: weights row x activation row ----
float csimd_dot_q8_q8a_ref(const csimd_block_q8 *w, const csimd_block_q8a *a, int64_t nb);
float csimd_dot_q4_q8a_ref(const csimd_block_q4 *w, const csimd_block_q8a *a, int64_t nb);
float csimd_dot_q4n_q8a_ref(const csimd_block_q4n *w, const csimd_block_q8a *a, int64_t nb);
float csimd_dot_q3n_q8a_ref(const csimd_block_q3n *w, const csimd_block_q8a *a, int64_t nb);

/// IEEE half <-> float conversions used by every block type (round to nearest even).
float csimd_f16_to_f32(uint16_t h);
uint16_t csimd_f32_to_f16(float f);

#ifdef __cplusplus
}
#endif
#endif
