// A LoRA update folded into weight rows (dolly convert --lora, dolly imatrix --lora), on all threads.
#include "csimd_kernels.h"

int32_t csimd_lora_merge_rows(const csimd_matrix *src, const int64_t *row_map, int32_t source_reordered,
                              int64_t first_row, int64_t n_rows, const float *a, const float *b, int64_t rank,
                              float *out, int32_t n_threads) {
    if (!src || !a || !b || !out || rank < 1 || first_row < 0 || n_rows < 0) return -1;
    const int64_t cols = src->cols;
    int32_t status = 0;
    // Rows are independent; each is widened, then gets rank axpys over its columns in order (so the result
    // does not depend on the thread count).
#pragma omp parallel for schedule(static) num_threads(csimd_team(n_threads))
    for (int64_t i = 0; i < n_rows; i++) {
        const int64_t hf = row_map ? row_map[first_row + i] : first_row + i;
        float *row = out + i * cols;
        if (csimd_matrix_row_dequantize(src, source_reordered ? first_row + i : hf, row) != 0) {
#pragma omp atomic write
            status = -1;
            continue;
        }
        for (int64_t k = 0; k < rank; k++) {
            const float c = b[hf * rank + k];
            if (c == 0.0f) continue;
            const float *ak = a + k * cols;
            for (int64_t j = 0; j < cols; j++) row[j] += c * ak[j];
        }
    }
    return status;
}
