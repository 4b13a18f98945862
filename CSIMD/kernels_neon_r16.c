// NEON kernels for the R16 row-interleaved layouts (csimd_blocks.h), "neon" and "neon-dotprod".
//
// A tile's 64-byte vector k is four 16-byte quarters q (rows 4q..4q+3); int32 lane r of a quarter
// holds row 4q + r's 4 weights for activation dword k (Q4: k = 2j low nibbles of vector j, k = 2j + 1
// high nibbles). NEON multiplies signed x signed, so the weights are made signed first (Q4: nibble - 8,
// Q8: stored ^ 0x80 = q, grids: the signed grid value by one vqtbl1q_s8) and no offset correction is needed.
//   dotprod: vdotq_laneq_s32 (quarter x activation dword k, picked by lane): 8 steps per quarter,
//            two chains.
//   baseline: vmull_s8 / vmlal_s8 on the quarter's halves (rows 4q, 4q+1 | 4q+2, 4q+3) against the
//            activation dword repeated; i16 lanes hold at most 8 Q4 products (8 * 8 * 127 = 8128) or 2 Q8
//            products (2 * 128 * 127 = 32512), then widened pairwise into int32 and folded to one lane per row.
// The loop runs quarter by quarter so that one quarter's 8 weight vectors, its scales and the
// R16_T x 4 float accumulators fit the 32 vector registers; each unpacked quarter serves R16_T tokens.
#include "csimd_kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>

#include "csimd_target.h"  // CSIMD_DOTPROD_TARGET
#define INLINE static inline __attribute__((always_inline))

#define R16_T 4

/// Quarter q of a tile as 8 signed weight vectors, w[k] pairing with activation dword k.
INLINE void unpack_q4(const uint8_t *tile, int q, int8x16_t w[8]) {
    const uint8x16_t m = vdupq_n_u8(0x0F);
    const int8x16_t eight = vdupq_n_s8(8);
    for (int j = 0; j < 4; j++) {
        const uint8x16_t v = vld1q_u8(tile + 32 + 64 * j + 16 * q);
        w[2 * j] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, m)), eight);
        w[2 * j + 1] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), eight);
    }
}

/// Grid types: indices -> signed grid values by one table lookup.
INLINE void unpack_q4n(const uint8_t *tile, int q, int8x16_t w[8]) {
    static const int8_t grid[16] = CSIMD_Q4N_GRID_INIT;
    const int8x16_t lut = vld1q_s8(grid);
    const uint8x16_t m = vdupq_n_u8(0x0F);
    for (int j = 0; j < 4; j++) {
        const uint8x16_t v = vld1q_u8(tile + 32 + 64 * j + 16 * q);
        w[2 * j] = vqtbl1q_s8(lut, vandq_u8(v, m));
        w[2 * j + 1] = vqtbl1q_s8(lut, vshrq_n_u8(v, 4));
    }
}

/// Q3NR16 (csimd_blocks.h): n_0..n_5 one shift and mask from A, B, C; n_6 and n_7 merge two fields
/// (byte shifts bring in zeros, so the top fields need no mask).
INLINE void unpack_q3n(const uint8_t *tile, int q, int8x16_t w[8]) {
    static const int8_t grid[16] = CSIMD_Q3N_GRID_INIT;
    const int8x16_t lut = vld1q_s8(grid);
    const uint8x16_t A = vld1q_u8(tile + 32 + 16 * q), B = vld1q_u8(tile + 96 + 16 * q), C = vld1q_u8(tile + 160 + 16 * q);
    const uint8x16_t seven = vdupq_n_u8(7);
    const uint8x16_t n[8] = {vandq_u8(A, seven), vandq_u8(vshrq_n_u8(A, 3), seven),
                             vandq_u8(B, seven), vandq_u8(vshrq_n_u8(B, 3), seven),
                             vandq_u8(C, seven), vandq_u8(vshrq_n_u8(C, 3), seven),
                             vorrq_u8(vshrq_n_u8(A, 6), vandq_u8(vshrq_n_u8(B, 4), vdupq_n_u8(4))),
                             vorrq_u8(vshrq_n_u8(B, 7), vandq_u8(vshrq_n_u8(C, 5), vdupq_n_u8(6)))};
    for (int k = 0; k < 8; k++) w[k] = vqtbl1q_s8(lut, n[k]);
}

INLINE void unpack_q8(const uint8_t *tile, int q, int8x16_t w[8]) {
    for (int k = 0; k < 8; k++)
        w[k] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(tile + 32 + 64 * k + 16 * q), vdupq_n_u8(0x80)));
}

/// The 4 f16 scales of quarter q's rows (byte loads: tiles need no alignment).
INLINE float32x4_t quarter_scales(const uint8_t *tile, int q) {
    return vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8(tile + 8 * q)));
}

INLINE void store_rows(float *y, int nr, const float32x4_t acc[4]) {
    if (nr == CSIMD_R16) {
        for (int q = 0; q < 4; q++) vst1q_f32(y + 4 * q, acc[q]);
        return;
    }
    float tmp[CSIMD_R16];
    for (int q = 0; q < 4; q++) vst1q_f32(tmp + 4 * q, acc[q]);
    memcpy(y, tmp, (size_t)nr * sizeof(float));
}

// ---- dotprod ----
CSIMD_DOTPROD_TARGET INLINE int32x4_t quarter_dot_dotprod(const int8x16_t w[8], const csimd_block_q8a *ab) {
    const int8x16_t a0 = vld1q_s8(ab->qs), a1 = vld1q_s8(ab->qs + 16);
    int32x4_t s0 = vdotq_laneq_s32(vdupq_n_s32(0), w[0], a0, 0);
    int32x4_t s1 = vdotq_laneq_s32(vdupq_n_s32(0), w[1], a0, 1);
    s0 = vdotq_laneq_s32(s0, w[2], a0, 2);
    s1 = vdotq_laneq_s32(s1, w[3], a0, 3);
    s0 = vdotq_laneq_s32(s0, w[4], a1, 0);
    s1 = vdotq_laneq_s32(s1, w[5], a1, 1);
    s0 = vdotq_laneq_s32(s0, w[6], a1, 2);
    s1 = vdotq_laneq_s32(s1, w[7], a1, 3);
    return vaddq_s32(s0, s1);
}

// ---- baseline ----
/// Activation dword k repeated 4 times.
INLINE int8x16_t act_dword(const csimd_block_q8a *ab, int k) {
    int32_t v;
    memcpy(&v, ab->qs + 4 * k, 4);
    return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

INLINE int32x4_t quarter_dot_q4_neon(const int8x16_t w[8], const csimd_block_q8a *ab) {
    int8x16_t a = act_dword(ab, 0);
    int16x8_t lo = vmull_s8(vget_low_s8(w[0]), vget_low_s8(a)), hi = vmull_high_s8(w[0], a);
    for (int k = 1; k < 8; k++) {
        a = act_dword(ab, k);
        lo = vmlal_s8(lo, vget_low_s8(w[k]), vget_low_s8(a));
        hi = vmlal_high_s8(hi, w[k], a);
    }
    return vpaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi));
}

INLINE int32x4_t quarter_dot_q8_neon(const int8x16_t w[8], const csimd_block_q8a *ab) {
    int32x4_t lo32 = vdupq_n_s32(0), hi32 = vdupq_n_s32(0);
    for (int k = 0; k < 8; k += 2) {
        const int8x16_t a0 = act_dword(ab, k), a1 = act_dword(ab, k + 1);
        int16x8_t lo = vmull_s8(vget_low_s8(w[k]), vget_low_s8(a0)), hi = vmull_high_s8(w[k], a0);
        lo = vmlal_s8(lo, vget_low_s8(w[k + 1]), vget_low_s8(a1));
        hi = vmlal_high_s8(hi, w[k + 1], a1);
        lo32 = vpadalq_s16(lo32, lo);
        hi32 = vpadalq_s16(hi32, hi);
    }
    return vpaddq_s32(lo32, hi32);
}

// T (<= R16_T) tokens against the whole group; T is a constant after inlining.
#define DEFINE_TILES(name, ATTR, TILE_BYTES, UNPACK, DOT)                                                       \
    ATTR INLINE void name##_t(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a, int64_t as,   \
                              float *y, int64_t ys, const int T) {                                             \
        float32x4_t acc[R16_T][4];                                                                             \
        for (int t = 0; t < T; t++)                                                                            \
            for (int q = 0; q < 4; q++) acc[t][q] = vdupq_n_f32(0.0f);                                         \
        const uint8_t *tile = group;                                                                           \
        for (int64_t b = 0; b < nb; b++, tile += TILE_BYTES) {                                                 \
            __builtin_prefetch(tile + 4 * TILE_BYTES);                                                         \
            for (int q = 0; q < 4; q++) {                                                                      \
                const float32x4_t dw = quarter_scales(tile, q);                                                \
                int8x16_t w[8];                                                                                \
                UNPACK(tile, q, w);                                                                            \
                for (int t = 0; t < T; t++) {                                                                  \
                    const csimd_block_q8a *ab = a + t * as + b;                                                \
                    acc[t][q] = vfmaq_f32(acc[t][q], vcvtq_f32_s32(DOT(w, ab)), vmulq_n_f32(dw, ab->d));       \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
        for (int t = 0; t < T; t++) store_rows(y + t * ys, nr, acc[t]);                                        \
    }                                                                                                          \
    ATTR void name(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a, int64_t as, int nt,     \
                   float *y, int64_t ys) {                                                                     \
        int t = 0;                                                                                             \
        for (; t + R16_T <= nt; t += R16_T) name##_t(group, nb, nr, a + t * as, as, y + t * ys, ys, R16_T);    \
        switch (nt - t) {                                                                                      \
        case 3: name##_t(group, nb, nr, a + t * as, as, y + t * ys, ys, 3); break;                             \
        case 2: name##_t(group, nb, nr, a + t * as, as, y + t * ys, ys, 2); break;                             \
        case 1: name##_t(group, nb, nr, a + t * as, as, y + t * ys, ys, 1); break;                             \
        default: break;                                                                                        \
        }                                                                                                      \
    }

#define NO_ATTR
DEFINE_TILES(csimd_tile_q4r16_neon, NO_ATTR, CSIMD_Q4R16_TILE, unpack_q4, quarter_dot_q4_neon)
DEFINE_TILES(csimd_tile_q8r16_neon, NO_ATTR, CSIMD_Q8R16_TILE, unpack_q8, quarter_dot_q8_neon)
DEFINE_TILES(csimd_tile_q4r16_neon_dotprod, CSIMD_DOTPROD_TARGET, CSIMD_Q4R16_TILE, unpack_q4, quarter_dot_dotprod)
DEFINE_TILES(csimd_tile_q8r16_neon_dotprod, CSIMD_DOTPROD_TARGET, CSIMD_Q8R16_TILE, unpack_q8, quarter_dot_dotprod)
// Grid values reach |63|: two products per i16 lane at most, as for Q8.
DEFINE_TILES(csimd_tile_q4nr16_neon, NO_ATTR, CSIMD_Q4NR16_TILE, unpack_q4n, quarter_dot_q8_neon)
DEFINE_TILES(csimd_tile_q3nr16_neon, NO_ATTR, CSIMD_Q3NR16_TILE, unpack_q3n, quarter_dot_q8_neon)
DEFINE_TILES(csimd_tile_q4nr16_neon_dotprod, CSIMD_DOTPROD_TARGET, CSIMD_Q4NR16_TILE, unpack_q4n, quarter_dot_dotprod)
DEFINE_TILES(csimd_tile_q3nr16_neon_dotprod, CSIMD_DOTPROD_TARGET, CSIMD_Q3NR16_TILE, unpack_q3n, quarter_dot_dotprod)
#endif
