// Conversion of checkpoint matrices (f32/f16/bf16 rows) to the file format's types, on all threads.
#include "csimd_kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/// The per-value weights a row's Q4 blocks are fitted with (csimd_rows_convert_weighted); NULL when
/// every weight would be 1, so the unweighted search runs unchanged.
static const float *row_weights(const float *row, int64_t cols, const csimd_quant_weights *qw, float *out) {
    if (!qw || (!qw->importance && qw->magnitude == 0)) return NULL;
    float sigma2 = 0.0f;
    if (qw->magnitude) {
        double s = 0.0;
        for (int64_t c = 0; c < cols; c++) s += (double)row[c] * row[c];
        sigma2 = (float)(s / (double)cols);
    }
    for (int64_t c = 0; c < cols; c++) {
        const float imp = qw->importance ? qw->importance[c] : 1.0f;
        out[c] = qw->magnitude ? imp * sqrtf(sigma2 + row[c] * row[c]) : imp;
    }
    return out;
}

int64_t csimd_type_row_bytes(int32_t type, int64_t cols) {
    switch (type) {
    case CSIMD_TYPE_F32: return cols * 4;
    case CSIMD_TYPE_F16:
    case CSIMD_TYPE_BF16: return cols * 2;
    case CSIMD_TYPE_Q8: return cols % CSIMD_BLOCK_SIZE ? -1 : cols / CSIMD_BLOCK_SIZE * (int64_t)sizeof(csimd_block_q8);
    case CSIMD_TYPE_Q4: return cols % CSIMD_BLOCK_SIZE ? -1 : cols / CSIMD_BLOCK_SIZE * (int64_t)sizeof(csimd_block_q4);
    // R16 types: the stride of a group of 16 rows.
    case CSIMD_TYPE_Q8R16:
    case CSIMD_TYPE_Q4R16:
    case CSIMD_TYPE_Q4NR16:
    case CSIMD_TYPE_Q3NR16: return cols % CSIMD_BLOCK_SIZE ? -1 : cols / CSIMD_BLOCK_SIZE * csimd_r16_tile_bytes(type);
    default: return -1;
    }
}

/// R16 output: groups of 16 rows are quantized row-major, then interleaved.
static int32_t rows_convert_r16(const csimd_matrix *src, const int64_t *row_map, int64_t first_row,
                                int64_t n_rows, int32_t dst_type, void *dst, const csimd_quant_weights *qw,
                                int32_t n_threads) {
    const int64_t cols = src->cols, nb = cols / CSIMD_BLOCK_SIZE;
    const int64_t group_bytes = csimd_type_row_bytes(dst_type, cols);
    // Rows are fitted to the plain block of the type, then interleaved.
    const size_t block_bytes = (size_t)csimd_r16_tile_bytes(dst_type) / CSIMD_R16;
    if (first_row % CSIMD_R16) return -1;
    const int64_t groups = (n_rows + CSIMD_R16 - 1) / CSIMD_R16;
    const int compensated = qw && qw->factor && (dst_type == CSIMD_TYPE_Q4NR16 || dst_type == CSIMD_TYPE_Q3NR16);
    if (compensated && (qw->band <= 0 || qw->band % CSIMD_BLOCK_SIZE)) return -1;
    int32_t status = 0;
#pragma omp parallel num_threads(csimd_team(n_threads))
    {
        float *row = (float *)malloc((size_t)cols * sizeof(float));
        float *wrow = (float *)malloc((size_t)cols * sizeof(float));
        uint8_t *blocks = (uint8_t *)malloc((size_t)(CSIMD_R16 * nb) * block_bytes);
        // The compensated fit works on a whole group of rows at once (and their weights, if any).
        float *group_rows = compensated ? (float *)malloc((size_t)(CSIMD_R16 * cols) * sizeof(float)) : NULL;
        const int weighted = compensated && (qw->importance || qw->magnitude);
        float *group_weights = weighted ? (float *)malloc((size_t)(CSIMD_R16 * cols) * sizeof(float)) : NULL;
        if (!row || !wrow || !blocks || (compensated && !group_rows) || (weighted && !group_weights)) {
#pragma omp atomic write
            status = -2;
        }
#pragma omp for schedule(static)
        for (int64_t g = 0; g < groups; g++) {
            if (!row || !wrow || !blocks) continue;
            const void *ptrs[CSIMD_R16];
            if (compensated) {
                if (!group_rows || (weighted && !group_weights)) continue;
                int nr = 0;
                for (; nr < CSIMD_R16; nr++) {
                    const int64_t i = g * CSIMD_R16 + nr, sr = first_row + i;
                    if (i >= n_rows || sr >= src->rows) break;
                    float *r = group_rows + nr * cols;
                    csimd_matrix_row_dequantize(src, row_map ? row_map[sr] : sr, r);
                    if (group_weights) row_weights(r, cols, qw, group_weights + nr * cols);
                    ptrs[nr] = blocks + (size_t)(nr * nb) * block_bytes;
                }
                for (int r = nr; r < CSIMD_R16; r++) ptrs[r] = NULL;
                csimd_grid_quantize_compensated_ref(group_rows, nr, cols, group_weights, qw->factor, qw->band,
                                                    dst_type == CSIMD_TYPE_Q4NR16 ? 16 : 8, blocks);
            } else for (int r = 0; r < CSIMD_R16; r++) {
                const int64_t i = g * CSIMD_R16 + r;   // row within this call
                const int64_t sr = first_row + i;     // row of the matrix
                if (i >= n_rows || sr >= src->rows) { ptrs[r] = NULL; continue; }
                csimd_matrix_row_dequantize(src, row_map ? row_map[sr] : sr, row);
                uint8_t *out = blocks + (size_t)(r * nb) * block_bytes;
                const float *weights = dst_type == CSIMD_TYPE_Q8R16 ? NULL : row_weights(row, cols, qw, wrow);
                switch (dst_type) {
                case CSIMD_TYPE_Q8R16: csimd_q8_quantize_ref(row, cols, (csimd_block_q8 *)out); break;
                case CSIMD_TYPE_Q4R16: csimd_q4_quantize_weighted_ref(row, weights, cols, (csimd_block_q4 *)out); break;
                case CSIMD_TYPE_Q4NR16: csimd_q4n_quantize_weighted_ref(row, weights, cols, (csimd_block_q4n *)out); break;
                default: csimd_q3n_quantize_weighted_ref(row, weights, cols, (csimd_block_q3n *)out); break;
                }
                ptrs[r] = out;
            }
            uint8_t *group = (uint8_t *)dst + g * group_bytes;
            switch (dst_type) {
            case CSIMD_TYPE_Q8R16: csimd_q8r16_pack((const csimd_block_q8 *const *)ptrs, nb, group); break;
            case CSIMD_TYPE_Q4R16: csimd_q4r16_pack((const csimd_block_q4 *const *)ptrs, nb, group); break;
            case CSIMD_TYPE_Q4NR16: csimd_q4nr16_pack((const csimd_block_q4n *const *)ptrs, nb, group); break;
            default: csimd_q3nr16_pack((const csimd_block_q3n *const *)ptrs, nb, group); break;
            }
        }
        free(row);
        free(wrow);
        free(blocks);
        free(group_rows);
        free(group_weights);
    }
    return status;
}

int32_t csimd_rows_convert(const csimd_matrix *src, const int64_t *row_map, int64_t first_row,
                           int64_t n_rows, int32_t dst_type, void *dst, int32_t n_threads) {
    return csimd_rows_convert_weighted(src, row_map, first_row, n_rows, dst_type, dst, NULL, n_threads);
}

int32_t csimd_rows_convert_weighted(const csimd_matrix *src, const int64_t *row_map, int64_t first_row,
                                    int64_t n_rows, int32_t dst_type, void *dst, const csimd_quant_weights *qw,
                                    int32_t n_threads) {
    if (csimd_r16_tile_bytes(dst_type)) {
        if (csimd_type_row_bytes(dst_type, src->cols) < 0) return -1;
        if (src->type != CSIMD_TYPE_F32 && src->type != CSIMD_TYPE_F16 && src->type != CSIMD_TYPE_BF16) return -1;
        return rows_convert_r16(src, row_map, first_row, n_rows, dst_type, dst, qw, n_threads);
    }
    const int64_t cols = src->cols;
    const int64_t out_row_bytes = csimd_type_row_bytes(dst_type, cols);
    if (out_row_bytes < 0) return -1;
    if (src->type != CSIMD_TYPE_F32 && src->type != CSIMD_TYPE_F16 && src->type != CSIMD_TYPE_BF16) return -1;
    int32_t status = 0;
#pragma omp parallel num_threads(csimd_team(n_threads))
    {
        float *row = (float *)malloc((size_t)cols * sizeof(float));
        float *wrow = (float *)malloc((size_t)cols * sizeof(float));
        if (!row || !wrow) {
#pragma omp atomic write
            status = -2;
        }
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n_rows; i++) {
            if (!row || !wrow) continue;
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
            case CSIMD_TYPE_Q4:
                csimd_q4_quantize_weighted_ref(row, row_weights(row, cols, qw, wrow), cols, (csimd_block_q4 *)out);
                break;
            }
        }
        free(row);
        free(wrow);
    }
    return status;
}
