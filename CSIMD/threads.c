#include "csimd.h"
#include <omp.h>

void csimd_threads_set(int32_t n) {
    if (n < 1) n = 1;
    omp_set_num_threads(n);
}

int32_t csimd_threads_get(void) { return (int32_t)omp_get_max_threads(); }
