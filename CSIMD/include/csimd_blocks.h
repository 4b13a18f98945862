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

// ---- Scalar reference quantizers (the specification; used by the converter) ----

/// n must be a multiple of 32. Scale = absmax / 127, round to nearest.
void csimd_q8_quantize_ref(const float *x, int64_t n, csimd_block_q8 *out);
void csimd_q8_dequantize_ref(const csimd_block_q8 *b, int64_t n, float *out);

/// n must be a multiple of 32. Searches candidate scales per block for the least squared error.
void csimd_q4_quantize_ref(const float *x, int64_t n, csimd_block_q4 *out);
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
