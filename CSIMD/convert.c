// Conversion of checkpoint matrices (f32/f16/bf16 rows) to the file format's types, on all threads.
#include "csimd.h"
#include <stdlib.h>
#include <string.h>

int64_t csimd_type_row_bytes(int32_t type, int64_t cols) {
    switch (type) {
    case CSIMD_TYPE_F32: return cols * 4;
    case CSIMD_TYPE_F16:
    case CSIMD_TYPE_BF16: return cols * 2;
    case CSIMD_TYPE_Q8: return cols % CSIMD_BLOCK_SIZE ? -1 : cols / CSIMD_BLOCK_SIZE * (int64_t)sizeof(csimd_block_q8);
    case CSIMD_TYPE_Q4: return cols % CSIMD_BLOCK_SIZE ? -1 : cols / CSIMD_BLOCK_SIZE * (int64_t)sizeof(csimd_block_q4);
    default: return -1;
    }
}

int32_t csimd_rows_convert(const csimd_matrix *src, const int64_t *row_map, int64_t first_row,
                           int64_t n_rows, int32_t dst_type, void *dst) {
    const int64_t cols = src->cols;
    const int64_t out_row_bytes = csimd_type_row_bytes(dst_type, cols);
    if (out_row_bytes < 0) return -1;
    if (src->type != CSIMD_TYPE_F32 && src->type != CSIMD_TYPE_F16 && src->type != CSIMD_TYPE_BF16) return -1;
    int32_t status = 0;
#pragma omp parallel
    {
        float *row = (float *)malloc((size_t)cols * sizeof(float));
        if (!row) {
#pragma omp atomic write
            status = -2;
        }
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n_rows; i++) {
            if (!row) continue;
            const int64_t r = first_row + i;
            csimd_matrix_row_dequantize(src, row_map ? row_map[r] : r, row);
            uint8_t *out = (uint8_t *)dst + i * out_row_bytes;
            switch (dst_type) {
            case CSIMD_TYPE_F32: memcpy(out, row, (size_t)cols * 4); break;
            case CSIMD_TYPE_F16:
                for (int64_t c = 0; c < cols; c++) {
                    const uint16_t h = csimd_f32_to_f16(row[c]);
                    memcpy(out + 2 * c, &h, 2);
                }
                break;
            case CSIMD_TYPE_BF16:
                for (int64_t c = 0; c < cols; c++) {
                    uint32_t bits;
                    memcpy(&bits, &row[c], 4);
                    const uint16_t h = (uint16_t)(bits >> 16); // exact for values that came from bf16
                    memcpy(out + 2 * c, &h, 2);
                }
                break;
            case CSIMD_TYPE_Q8: csimd_q8_quantize_ref(row, cols, (csimd_block_q8 *)out); break;
            case CSIMD_TYPE_Q4: csimd_q4_quantize_ref(row, cols, (csimd_block_q4 *)out); break;
            }
        }
        free(row);
    }
    return status;
}
