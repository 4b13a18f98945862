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

void csimd_q4r16_row_dequantize(const uint8_t *group, int64_t nb, int r, float *out) {
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *tile = group + b * CSIMD_Q4R16_TILE;
        const float d = tile_scale(tile, r);
        for (int j = 0; j < 4; j++)
            for (int i = 0; i < 4; i++) {
                const uint8_t v = tile[32 + 64 * j + 4 * r + i];
                out[b * 32 + 8 * j + i] = d * (float)((v & 0x0F) - 8);
                out[b * 32 + 8 * j + 4 + i] = d * (float)((v >> 4) - 8);
            }
    }
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

void csimd_r16_tile_ref(int32_t type, const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a,
                        int64_t a_stride, int nt, float *y, int64_t y_stride) {
    const int q8 = type == CSIMD_TYPE_Q8R16;
    const int64_t tile_bytes = q8 ? CSIMD_Q8R16_TILE : CSIMD_Q4R16_TILE;
    for (int t = 0; t < nt; t++) {
        for (int r = 0; r < nr; r++) {
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *tile = group + b * tile_bytes;
                const csimd_block_q8a *ab = a + t * a_stride + b;
                // The integer dot with the stored offsets, corrected by the offset times sum(qa):
                // exactly what the SIMD kernels compute.
                int32_t s = (q8 ? -128 : -8) * (int32_t)ab->sum;
                if (q8) {
                    for (int k = 0; k < 8; k++)
                        for (int i = 0; i < 4; i++) s += (int32_t)tile[32 + 64 * k + 4 * r + i] * ab->qs[4 * k + i];
                } else {
                    for (int j = 0; j < 4; j++)
                        for (int i = 0; i < 4; i++) {
                            const uint8_t v = tile[32 + 64 * j + 4 * r + i];
                            s += (int32_t)(v & 0x0F) * ab->qs[8 * j + i] + (int32_t)(v >> 4) * ab->qs[8 * j + 4 + i];
                        }
                }
                acc += tile_scale(tile, r) * ab->d * (float)s;
            }
            y[t * y_stride + r] = acc;
        }
    }
}
