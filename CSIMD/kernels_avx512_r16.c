// AVX-512 VNNI kernels for the R16 row-interleaved layouts (csimd_blocks.h).
//
// A tile holds one block column of 16 rows, arranged so that each 64-byte vector is one vpdpbusd
// step for all 16 rows at once (lane r = row r). Eight steps give sixteen exact block dots in one
// register; the accumulator starts at -offset * sum(qa) so the unsigned storage (Q4 n = w + 8,
// Q8 q + 128) needs no other correction. Then one convert and one FMA with the 16 row scales times
// the activation scale. Grid types (Q4N, Q3N) decode indices to grid value + 64 with one byte shuffle
// and start at -64 * sum(qa). The unpacked weight vectors are reused for 4 activation rows (tokens): with 8, a group streamed from
// memory took 1.5x as long per token (the loads fall behind the longer compute).
#include "csimd_kernels.h"
#include "csimd_target.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX512_VNNI)

#define TOKENS 4

static inline __m512i act_dword(const csimd_block_q8a *ab, int k) {
    int32_t v;
    memcpy(&v, ab->qs + 4 * k, 4);
    return _mm512_set1_epi32(v);
}

/// One block column's contribution for one activation row, weights already unpacked in w[0..7]
/// (w[k] pairs with activation dword k).
/// One vpdpbusd chain per activation row: with eight rows in flight their latencies overlap, and
/// a second chain would only add a zeroing and a merge per step.
static inline __m512 step(const __m512i w[8], const csimd_block_q8a *ab, int offset, __m512 dw, __m512 acc) {
    __m512i s = _mm512_set1_epi32(-offset * (int32_t)ab->sum);
    for (int k = 0; k < 8; k++) s = _mm512_dpbusd_epi32(s, w[k], act_dword(ab, k));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(ab->d)), acc);
}

static inline void unpack_q4(const uint8_t *tile, __m512i w[8]) {
    const __m512i low = _mm512_set1_epi8(0x0F);
    for (int j = 0; j < 4; j++) {
        const __m512i v = _mm512_loadu_si512((const void *)(tile + 32 + 64 * j));
        w[2 * j] = _mm512_and_si512(v, low);
        w[2 * j + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
    }
}

/// Grid types: index -> grid value + 64 by one byte shuffle (the table repeated in every 128-bit lane).
static const int8_t q4n_grid[16] = CSIMD_Q4N_GRID_INIT, q3n_grid[16] = CSIMD_Q3N_GRID_INIT;
static inline __m512i grid_table(const int8_t grid[16]) {
    return _mm512_broadcast_i32x4(_mm_add_epi8(_mm_loadu_si128((const __m128i *)grid), _mm_set1_epi8(64)));
}

static inline void unpack_q4n(const uint8_t *tile, __m512i w[8]) {
    const __m512i lut = grid_table(q4n_grid);
    unpack_q4(tile, w);
    for (int k = 0; k < 8; k++) w[k] = _mm512_shuffle_epi8(lut, w[k]);
}

/// Q3NR16 (csimd_blocks.h) as lookup indices whose bits above 2 are garbage: n_0..n_5 one 16-bit shift
/// from A, B, C (the neighbouring byte's bits land above bit 2); n_6 and n_7 merge two fields with one
/// vpternlogd each (bits where the mask is set from the first, the rest from the second).
static inline void q3n_indices(const uint8_t *tile, __m512i n[8]) {
    const __m512i A = _mm512_loadu_si512((const void *)(tile + 32)), B = _mm512_loadu_si512((const void *)(tile + 96)),
                  C = _mm512_loadu_si512((const void *)(tile + 160));
    n[0] = A, n[1] = _mm512_srli_epi16(A, 3);
    n[2] = B, n[3] = _mm512_srli_epi16(B, 3);
    n[4] = C, n[5] = _mm512_srli_epi16(C, 3);
    n[6] = _mm512_ternarylogic_epi32(_mm512_set1_epi8(3), _mm512_srli_epi16(A, 6), _mm512_srli_epi16(B, 4), 0xCA);
    n[7] = _mm512_ternarylogic_epi32(_mm512_set1_epi8(1), _mm512_srli_epi16(B, 7), _mm512_srli_epi16(C, 5), 0xCA);
}

/// Q3NR16 by vpshufb: indices cut to their 3 bits (a set bit 7 would read zero).
static inline void unpack_q3n(const uint8_t *tile, __m512i w[8]) {
    const __m512i lut = grid_table(q3n_grid), seven = _mm512_set1_epi8(7);
    __m512i n[8];
    q3n_indices(tile, n);
    for (int k = 0; k < 8; k++) w[k] = _mm512_shuffle_epi8(lut, _mm512_and_si512(n[k], seven));
}

static inline void unpack_q8(const uint8_t *tile, __m512i w[8]) {
    for (int k = 0; k < 8; k++) w[k] = _mm512_loadu_si512((const void *)(tile + 32 + 64 * k));
}

static inline void store_rows(float *y, int nr, __m512 v) {
    _mm512_mask_storeu_ps(y, (__mmask16)((1u << nr) - 1u), v);
}

/// N activation rows (1..TOKENS) against one group: a fixed trip count for every N, so the compiler
/// unrolls the token loop and the accumulators stay in registers (decoding a few sequences at once
/// runs N = 2..4). Each row's arithmetic is the same whatever N is: batching never changes a result.
#define DEFINE_TILE_N(kind, TILE_BYTES, OFFSET, UNPACK)                                                        \
    static inline __attribute__((always_inline)) void kind##_n(const uint8_t *tile, int64_t nb, int nr,         \
                                                               const csimd_block_q8a *const at[TOKENS],         \
                                                               const int N, float *y, int64_t y_stride) {       \
        __m512 acc[TOKENS];                                                                                     \
        for (int t = 0; t < N; t++) acc[t] = _mm512_setzero_ps();                                               \
        for (int64_t b = 0; b < nb; b++, tile += TILE_BYTES) {                                                  \
            _mm_prefetch((const char *)(tile + 4 * TILE_BYTES), _MM_HINT_T0);                                   \
            { /* the next group's tile, into L2: memory keeps streaming while this one computes (one token \
                 too: tg128 of dolly-v2-3b-shaped q4 +6-9%, q3 +14%, BENCHMARKS.md "Better bits") */              \
                const char *next = (const char *)tile + nb * TILE_BYTES;                                        \
                for (int l = 0; l < TILE_BYTES; l += 64) _mm_prefetch(next + l, _MM_HINT_T1);                   \
            }                                                                                                   \
            const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)tile));                      \
            __m512i w[8];                                                                                       \
            UNPACK(tile, w);                                                                                    \
            for (int t = 0; t < N; t++) acc[t] = step(w, at[t] + b, OFFSET, dw, acc[t]);                        \
        }                                                                                                       \
        for (int t = 0; t < N; t++) store_rows(y + t * y_stride, nr, acc[t]);                                   \
    }

#define DEFINE_TILE(kind, TILE_BYTES, OFFSET, UNPACK)                                                          \
    DEFINE_TILE_N(kind, TILE_BYTES, OFFSET, UNPACK)                                                            \
    void csimd_tile_##kind##_avx512(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a,         \
                                    int64_t a_stride, int nt, float *y, int64_t y_stride) {                     \
        for (int t0 = 0; t0 < nt; t0 += TOKENS) {                                                               \
            const int n = nt - t0 < TOKENS ? nt - t0 : TOKENS;                                                  \
            const csimd_block_q8a *at[TOKENS];                                                                  \
            for (int t = 0; t < TOKENS; t++) at[t] = a + (t0 + (t < n ? t : 0)) * a_stride;                     \
            float *yt = y + t0 * y_stride;                                                                      \
            switch (n) {                                                                                        \
            case 1: kind##_n(group, nb, nr, at, 1, yt, y_stride); break;                                        \
            case 2: kind##_n(group, nb, nr, at, 2, yt, y_stride); break;                                        \
            case 3: kind##_n(group, nb, nr, at, 3, yt, y_stride); break;                                        \
            case 4: kind##_n(group, nb, nr, at, 4, yt, y_stride); break;                                        \
            default: kind##_n(group, nb, nr, at, TOKENS, yt, y_stride); break;                                  \
            }                                                                                                   \
        }                                                                                                       \
    }

DEFINE_TILE(q4r16, CSIMD_Q4R16_TILE, 8, unpack_q4)
DEFINE_TILE(q8r16, CSIMD_Q8R16_TILE, 128, unpack_q8)
DEFINE_TILE(q4nr16, CSIMD_Q4NR16_TILE, 64, unpack_q4n)
DEFINE_TILE(q3nr16, CSIMD_Q3NR16_TILE, 64, unpack_q3n)

CSIMD_TARGET_END

// ---- With AVX-512 VBMI: grid decoding by vpermb, as cheap as Q4's plain unpacking ----
// vpermb looks up 64 bytes by the low 6 bits of each index byte. With the grid repeated across the
// table, index bits above the grid's own are don't-cares, so the masking that vpshufb needs goes away:
// Q4N: a byte itself indexes its low nibble's value, the byte shifted right by 4 its high nibble's
// (16-bit shift: the neighbour's bits land in bits 4-7, ignored). Q3N's indices (q3n_indices) need no
// masking either.
CSIMD_TARGET_BEGIN(CSIMD_ISA_AVX512_VBMI)

/// The grid (+ 64) repeated over all 64 bytes: Q4N's 16 values 4 times, Q3N's 8 values 8 times.
static inline __m512i grid_table64(const int8_t grid[16], int levels) {
    const __m128i g = _mm_add_epi8(_mm_loadu_si128((const __m128i *)grid), _mm_set1_epi8(64));
    return levels == 16 ? _mm512_broadcast_i32x4(g) : _mm512_broadcastq_epi64(g);
}

static inline void unpack_q4n_vbmi(const uint8_t *tile, __m512i w[8]) {
    const __m512i lut = grid_table64(q4n_grid, 16);
    for (int j = 0; j < 4; j++) {
        const __m512i v = _mm512_loadu_si512((const void *)(tile + 32 + 64 * j));
        w[2 * j] = _mm512_permutexvar_epi8(v, lut);
        w[2 * j + 1] = _mm512_permutexvar_epi8(_mm512_srli_epi16(v, 4), lut);
    }
}

static inline void unpack_q3n_vbmi(const uint8_t *tile, __m512i w[8]) {
    const __m512i lut = grid_table64(q3n_grid, 8);
    __m512i n[8];
    q3n_indices(tile, n);
    for (int k = 0; k < 8; k++) w[k] = _mm512_permutexvar_epi8(n[k], lut);
}

DEFINE_TILE(q4nr16_vbmi, CSIMD_Q4NR16_TILE, 64, unpack_q4n_vbmi)
DEFINE_TILE(q3nr16_vbmi, CSIMD_Q3NR16_TILE, 64, unpack_q3n_vbmi)

CSIMD_TARGET_END
#endif
