// R16 row-interleaved layouts (csimd_blocks.h): packing, unpacking and the reference tile kernel.
#include "csimd.h"
#include <string.h>

void csimd_q4r16_pack(const csimd_block_q4 *const rows[16], int64_t nb, uint8_t *group) {
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *tile = group + b * CSIMD_Q4R16_TILE;
        for (int r = 0; r < CSIMD_R16; r++) {
            uint8_t n[32];
            uint16_t d = 0;
            if (rows[r]) {
                const csimd_block_q4 *blk = rows[r] + b;
                d = blk->d;
                for (int j = 0; j < 16; j++) {
                    n[j] = blk->qs[j] & 0x0F;
                    n[j + 16] = blk->qs[j] >> 4;
                }
            } else {
                memset(n, 8, sizeof n);
            }
            memcpy(tile + 2 * r, &d, 2);
            for (int j = 0; j < 4; j++)
                for (int i = 0; i < 4; i++)
                    tile[32 + 64 * j + 4 * r + i] = (uint8_t)(n[8 * j + i] | (n[8 * j + 4 + i] << 4));
        }
    }
}

void csimd_q8r16_pack(const csimd_block_q8 *const rows[16], int64_t nb, uint8_t *group) {
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *tile = group + b * CSIMD_Q8R16_TILE;
        for (int r = 0; r < CSIMD_R16; r++) {
            const csimd_block_q8 *blk = rows[r] ? rows[r] + b : NULL;
            const uint16_t d = blk ? blk->d : 0;
            memcpy(tile + 2 * r, &d, 2);
            for (int k = 0; k < 8; k++)
                for (int i = 0; i < 4; i++)
                    tile[32 + 64 * k + 4 * r + i] = (uint8_t)((blk ? blk->qs[4 * k + i] : 0) + 128);
        }
    }
}

static inline float tile_scale(const uint8_t *tile, int r) {
    uint16_t d;
    memcpy(&d, tile + 2 * r, 2);
    return csimd_f16_to_f32(d);
}

/// Row r of a group in the Q4R16 nibble layout (Q4R16, Q4NR16), each nibble standing for value[nibble].
static void nibble_r16_row_dequantize(const uint8_t *group, int64_t nb, int r, const int8_t value[16], float *out) {
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *tile = group + b * CSIMD_Q4R16_TILE;
        const float d = tile_scale(tile, r);
        for (int j = 0; j < 4; j++)
            for (int i = 0; i < 4; i++) {
                const uint8_t v = tile[32 + 64 * j + 4 * r + i];
                out[b * 32 + 8 * j + i] = d * (float)value[v & 0x0F];
                out[b * 32 + 8 * j + 4 + i] = d * (float)value[v >> 4];
            }
    }
}

void csimd_q4r16_row_dequantize(const uint8_t *group, int64_t nb, int r, float *out) {
    static const int8_t q4_values[16] = {-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7};
    nibble_r16_row_dequantize(group, nb, r, q4_values, out);
}

void csimd_q8r16_row_dequantize(const uint8_t *group, int64_t nb, int r, float *out) {
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *tile = group + b * CSIMD_Q8R16_TILE;
        const float d = tile_scale(tile, r);
        for (int k = 0; k < 8; k++)
            for (int i = 0; i < 4; i++)
                out[b * 32 + 4 * k + i] = d * (float)((int)tile[32 + 64 * k + 4 * r + i] - 128);
    }
}

void csimd_q4nr16_pack(const csimd_block_q4n *const rows[16], int64_t nb, uint8_t *group) {
    // The same bytes as Q4 blocks; a padded row's index 8 is grid value 3 at scale 0, so still 0.
    csimd_q4r16_pack((const csimd_block_q4 *const *)rows, nb, group);
}

/// Where index n_k (k < 8) of a Q3NR16 tile position lives: as (plane, shift, width) fields, the second
/// field (if any) holding its upper bits (csimd_blocks.h).
typedef struct {
    uint8_t plane, shift, bits, plane2, shift2;
} q3nr16_field;
static const q3nr16_field Q3NR16_FIELDS[8] = {
    {0, 0, 3, 0, 0}, {0, 3, 3, 0, 0}, {1, 0, 3, 0, 0}, {1, 3, 3, 0, 0},
    {2, 0, 3, 0, 0}, {2, 3, 3, 0, 0}, {0, 6, 2, 1, 6}, {1, 7, 1, 2, 6},
};

void csimd_q3nr16_pack(const csimd_block_q3n *const rows[16], int64_t nb, uint8_t *group) {
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *tile = group + b * CSIMD_Q3NR16_TILE;
        memset(tile, 0, CSIMD_Q3NR16_TILE);
        for (int r = 0; r < CSIMD_R16; r++) {
            if (!rows[r]) continue;  // scale 0, indices 0
            const csimd_block_q3n *blk = rows[r] + b;
            memcpy(tile + 2 * r, &blk->d, 2);
            for (int k = 0; k < 8; k++)
                for (int i = 0; i < 4; i++) {
                    const int n = csimd_q3n_index(blk, 4 * k + i);
                    const q3nr16_field f = Q3NR16_FIELDS[k];
                    tile[32 + 64 * f.plane + 4 * r + i] |= (uint8_t)((n & ((1 << f.bits) - 1)) << f.shift);
                    if (f.bits < 3) tile[32 + 64 * f.plane2 + 4 * r + i] |= (uint8_t)((n >> f.bits) << f.shift2);
                }
        }
    }
}

/// Grid index of weight 4k + i of row r in a Q3NR16 tile.
static inline int q3nr16_index(const uint8_t *tile, int r, int k, int i) {
    const q3nr16_field f = Q3NR16_FIELDS[k];
    int n = (tile[32 + 64 * f.plane + 4 * r + i] >> f.shift) & ((1 << f.bits) - 1);
    if (f.bits < 3) n |= ((tile[32 + 64 * f.plane2 + 4 * r + i] >> f.shift2) << f.bits) & 7;
    return n;
}

void csimd_q4nr16_row_dequantize(const uint8_t *group, int64_t nb, int r, float *out) {
    nibble_r16_row_dequantize(group, nb, r, CSIMD_Q4N_GRID, out);
}

void csimd_q3nr16_row_dequantize(const uint8_t *group, int64_t nb, int r, float *out) {
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *tile = group + b * CSIMD_Q3NR16_TILE;
        const float d = tile_scale(tile, r);
        for (int k = 0; k < 8; k++)
            for (int i = 0; i < 4; i++) out[b * 32 + 4 * k + i] = d * (float)CSIMD_Q3N_GRID[q3nr16_index(tile, r, k, i)];
    }
}

int64_t csimd_r16_tile_bytes(int32_t type) {
    switch (type) {
    case CSIMD_TYPE_Q8R16: return CSIMD_Q8R16_TILE;
    case CSIMD_TYPE_Q4R16: return CSIMD_Q4R16_TILE;
    case CSIMD_TYPE_Q4NR16: return CSIMD_Q4NR16_TILE;
    case CSIMD_TYPE_Q3NR16: return CSIMD_Q3NR16_TILE;
    default: return 0;
    }
}

/// The unsigned byte the integer kernels multiply for weight 4k + i of row r (k < 8, i < 4), and in
/// *offset what it exceeds the weight's integer value by (Q4: n = v + 8; Q8: q + 128; grids: g + 64).
static inline int32_t r16_weight_byte(int32_t type, const uint8_t *tile, int r, int k, int i, int32_t *offset) {
    switch (type) {
    case CSIMD_TYPE_Q8R16:
        *offset = 128;
        return tile[32 + 64 * k + 4 * r + i];
    case CSIMD_TYPE_Q4R16:
    case CSIMD_TYPE_Q4NR16: {
        const uint8_t v = tile[32 + 64 * (k / 2) + 4 * r + i];
        const int n = k % 2 ? v >> 4 : v & 0x0F;
        *offset = type == CSIMD_TYPE_Q4R16 ? 8 : 64;
        return type == CSIMD_TYPE_Q4R16 ? n : CSIMD_Q4N_GRID[n] + 64;
    }
    default:  // CSIMD_TYPE_Q3NR16
        *offset = 64;
        return CSIMD_Q3N_GRID[q3nr16_index(tile, r, k, i)] + 64;
    }
}

void csimd_r16_tile_ref(int32_t type, const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a,
                        int64_t a_stride, int nt, float *y, int64_t y_stride) {
    const int64_t tile_bytes = csimd_r16_tile_bytes(type);
    for (int t = 0; t < nt; t++) {
        for (int r = 0; r < nr; r++) {
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *tile = group + b * tile_bytes;
                const csimd_block_q8a *ab = a + t * a_stride + b;
                // The integer dot of the stored unsigned bytes, corrected by the offset times sum(qa):
                // exactly what the SIMD kernels compute. Step k pairs weights 4k..4k+3 with qa[4k..4k+3]
                // (Q4 layouts: k = 2j are vector j's low nibbles, k = 2j + 1 its high nibbles).
                int32_t s = 0, offset = 0;
                for (int k = 0; k < 8; k++)
                    for (int i = 0; i < 4; i++) {
                        s += r16_weight_byte(type, tile, r, k, i, &offset) * ab->qs[4 * k + i];
                    }
                s -= offset * (int32_t)ab->sum;
                acc += tile_scale(tile, r) * ab->d * (float)s;
            }
            y[t * y_stride + r] = acc;
        }
    }
}
