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
#else
_Static_assert(sizeof(csimd_block_q8) == 34, "Q8 block is 34 bytes");
_Static_assert(sizeof(csimd_block_q4) == 18, "Q4 block is 18 bytes");
_Static_assert(sizeof(csimd_block_q8a) == 40, "Q8A block is 40 bytes");
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
// So each 64-byte vector feeds one 16-lane integer dot step (lane r: row r's 4 consecutive
// weights against the same 4 activations), and a tile yields 16 whole block dots at once.
// Values are those of the Q4/Q8 blocks: w = d * (n - 8), w = d * q. Same bits per weight.
#define CSIMD_R16 16
#define CSIMD_Q4R16_TILE 288
#define CSIMD_Q8R16_TILE 544
#if defined(__cplusplus)
static_assert(CSIMD_Q4R16_TILE == CSIMD_R16 * sizeof(csimd_block_q4), "a Q4R16 tile is 16 Q4 blocks");
static_assert(CSIMD_Q8R16_TILE == CSIMD_R16 * sizeof(csimd_block_q8), "a Q8R16 tile is 16 Q8 blocks");
#else
_Static_assert(CSIMD_Q4R16_TILE == CSIMD_R16 * sizeof(csimd_block_q4), "a Q4R16 tile is 16 Q4 blocks");
_Static_assert(CSIMD_Q8R16_TILE == CSIMD_R16 * sizeof(csimd_block_q8), "a Q8R16 tile is 16 Q8 blocks");
#endif

/// Packs 16 rows of Q4 (or Q8) blocks, rows[r] pointing at row r's nb blocks (NULL: a zero row),
/// into one group of nb tiles.
void csimd_q4r16_pack(const csimd_block_q4 *const rows[16], int64_t nb, uint8_t *group);
void csimd_q8r16_pack(const csimd_block_q8 *const rows[16], int64_t nb, uint8_t *group);
/// Row r (< 16) of a group, back to f32 (nb * 32 values).
void csimd_q4r16_row_dequantize(const uint8_t *group, int64_t nb, int r, float *out);
void csimd_q8r16_row_dequantize(const uint8_t *group, int64_t nb, int r, float *out);
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

/// Activations to Q8A blocks (n multiple of 32), scale = absmax / 127.
void csimd_q8a_quantize_ref(const float *x, int64_t n, csimd_block_q8a *out);

// ---- Dot products over nb blocks: weights row x activation row ----
float csimd_dot_q8_q8a_ref(const csimd_block_q8 *w, const csimd_block_q8a *a, int64_t nb);
float csimd_dot_q4_q8a_ref(const csimd_block_q4 *w, const csimd_block_q8a *a, int64_t nb);

/// IEEE half <-> float conversions used by every block type (round to nearest even).
float csimd_f16_to_f32(uint16_t h);
uint16_t csimd_f32_to_f16(float f);

#ifdef __cplusplus
}
#endif
#endif
