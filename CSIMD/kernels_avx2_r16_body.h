// Body of the 256-bit R16 tile kernels, included twice by kernels_avx2_r16.c (KVNNI 0: AVX2 + FMA +
// F16C; KVNNI 1: plus AVX-VNNI), defining csimd_tile_q4r16<KSUFFIX> and csimd_tile_q8r16<KSUFFIX>.
// Expects KSUFFIX (function name suffix) and KVNNI. Target attributes are applied by the includer.

#define KCAT2(a, b) a##b
#define KCAT(a, b) KCAT2(a, b)
#define FN(name) KCAT(name, KSUFFIX)

// ---- R16 row-interleaved tiles (csimd_blocks.h): one group of 16 rows x up to R16_T tokens ----
// A tile's 64-byte vector k is two ymm halves, rows 0-7 (h = 0) and rows 8-15 (h = 1); dword lane r
// of a half holds row r's 4 weights for activation dword k (Q4: k = 2j low nibbles of vector j,
// k = 2j + 1 high nibbles). Each weight vector is unpacked once per tile and reused for R16_T tokens.
//   KVNNI 0, Q4: vpmaddubsw(nibble u8 0..15, a s8) summed over all 8 k in i16 (|lane| <= 16 * 15 * 127
//                = 30480 < 32767: no saturation), one vpmaddwd by ones, then -8 * sum(qa).
//   KVNNI 0, Q8: w = stored ^ 0x80 (s8), sign trick vpmaddubsw(|a|, sign(w, a)) (pairs <= 2 * 127 * 127
//                < 32767), vpmaddwd by ones per k; no offset.
//   KVNNI 0, grids (Q4N, Q3N): index -> grid value + 64 (<= 127) by vpshufb, vpmaddubsw per k (pairs
//                <= 2 * 127 * 127 < 32767), vpmaddwd by ones per k, then -64 * sum(qa).
//   KVNNI 1:     vpdpbusd on the unsigned bytes, accumulator started at -offset * sum(qa), two
//                chains per half, exactly as the AVX-512 kernel (kernels_avx512_r16.c) on ymm halves.
#define R16_T 4
#ifndef CSIMD_R16_KINDS
#define CSIMD_R16_KINDS
enum { KIND_Q4, KIND_Q8, KIND_Q4N, KIND_Q3N };
#endif

static inline __m256i FN(r16_bcast)(const csimd_block_q8a *ab, int k) {
    int32_t v;
    memcpy(&v, ab->qs + 4 * k, 4);
    return _mm256_set1_epi32(v);
}

static inline void FN(r16_unpack_q4)(const uint8_t *tile, __m256i w[2][8]) {
    const __m256i m = _mm256_set1_epi8(0x0F);
    for (int j = 0; j < 4; j++)
        for (int h = 0; h < 2; h++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(tile + 32 + 64 * j + 32 * h));
            w[h][2 * j] = _mm256_and_si256(v, m);
            w[h][2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);
        }
}

static inline void FN(r16_unpack_q8)(const uint8_t *tile, __m256i w[2][8]) {
    for (int k = 0; k < 8; k++)
        for (int h = 0; h < 2; h++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(tile + 32 + 64 * k + 32 * h));
#if KVNNI
            w[h][k] = v;  // q + 128, unsigned for vpdpbusd
#else
            w[h][k] = _mm256_xor_si256(v, _mm256_set1_epi8((char)0x80));  // q, signed
#endif
        }
}

static inline __m256i FN(r16_grid_table)(const int8_t *grid) {
    const __m128i t = _mm_add_epi8(_mm_loadu_si128((const __m128i *)grid), _mm_set1_epi8(64));
    return _mm256_broadcastsi128_si256(t);
}

static inline void FN(r16_unpack_q4n)(const uint8_t *tile, __m256i w[2][8]) {
    static const int8_t grid[16] = CSIMD_Q4N_GRID_INIT;
    const __m256i lut = FN(r16_grid_table)(grid);
    FN(r16_unpack_q4)(tile, w);
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 8; k++) w[h][k] = _mm256_shuffle_epi8(lut, w[h][k]);
}

/// Q3NR16 (csimd_blocks.h): n_0..n_5 one shift and mask from A, B, C; n_6 and n_7 merge two fields.
/// 16-bit shifts: the bits from the neighbouring byte are masked off.
static inline void FN(r16_unpack_q3n)(const uint8_t *tile, __m256i w[2][8]) {
    static const int8_t grid[16] = CSIMD_Q3N_GRID_INIT;
    const __m256i lut = FN(r16_grid_table)(grid), seven = _mm256_set1_epi8(7);
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    for (int h = 0; h < 2; h++) {
        const __m256i A = _mm256_loadu_si256((const __m256i *)(tile + 32 + 32 * h));
        const __m256i B = _mm256_loadu_si256((const __m256i *)(tile + 96 + 32 * h));
        const __m256i C = _mm256_loadu_si256((const __m256i *)(tile + 160 + 32 * h));
        const __m256i n[8] = {
            _mm256_and_si256(A, seven), _mm256_and_si256(_mm256_srli_epi16(A, 3), seven),
            _mm256_and_si256(B, seven), _mm256_and_si256(_mm256_srli_epi16(B, 3), seven),
            _mm256_and_si256(C, seven), _mm256_and_si256(_mm256_srli_epi16(C, 3), seven),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(A, 6), three),
                            _mm256_and_si256(_mm256_srli_epi16(B, 4), _mm256_set1_epi8(4))),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(B, 7), one),
                            _mm256_and_si256(_mm256_srli_epi16(C, 5), _mm256_set1_epi8(6)))};
        for (int k = 0; k < 8; k++) w[h][k] = _mm256_shuffle_epi8(lut, n[k]);
    }
}

/// s[h] = exact block dots of rows 8h..8h+7 with activation block ab (offset already removed).
static inline __attribute__((always_inline)) void FN(r16_dot)(const int kind, const __m256i w[2][8],
                                                               const csimd_block_q8a *ab, __m256i s[2]) {
#if KVNNI
    const int32_t offset = kind == KIND_Q8 ? 128 : kind == KIND_Q4 ? 8 : 64;
    const __m256i c = _mm256_set1_epi32(-offset * (int32_t)ab->sum);
    __m256i s00 = c, s01 = _mm256_setzero_si256(), s10 = c, s11 = _mm256_setzero_si256();
    for (int k = 0; k < 8; k += 2) {
        const __m256i a0 = FN(r16_bcast)(ab, k), a1 = FN(r16_bcast)(ab, k + 1);
        s00 = _mm256_dpbusd_avx_epi32(s00, w[0][k], a0);
        s01 = _mm256_dpbusd_avx_epi32(s01, w[0][k + 1], a1);
        s10 = _mm256_dpbusd_avx_epi32(s10, w[1][k], a0);
        s11 = _mm256_dpbusd_avx_epi32(s11, w[1][k + 1], a1);
    }
    s[0] = _mm256_add_epi32(s00, s01);
    s[1] = _mm256_add_epi32(s10, s11);
#else
    const __m256i one = _mm256_set1_epi16(1);
    if (kind == KIND_Q4N || kind == KIND_Q3N) {
        __m256i s0 = _mm256_set1_epi32(-64 * (int32_t)ab->sum), s1 = s0;
        for (int k = 0; k < 8; k++) {
            const __m256i a = FN(r16_bcast)(ab, k);
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_maddubs_epi16(w[0][k], a), one));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_maddubs_epi16(w[1][k], a), one));
        }
        s[0] = s0;
        s[1] = s1;
    } else if (kind == KIND_Q4) {
        __m256i p0 = _mm256_setzero_si256(), p1 = _mm256_setzero_si256();
        for (int k = 0; k < 8; k++) {
            const __m256i a = FN(r16_bcast)(ab, k);
            p0 = _mm256_add_epi16(p0, _mm256_maddubs_epi16(w[0][k], a));
            p1 = _mm256_add_epi16(p1, _mm256_maddubs_epi16(w[1][k], a));
        }
        const __m256i c = _mm256_set1_epi32(-8 * (int32_t)ab->sum);
        s[0] = _mm256_add_epi32(_mm256_madd_epi16(p0, one), c);
        s[1] = _mm256_add_epi32(_mm256_madd_epi16(p1, one), c);
    } else {
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
        for (int k = 0; k < 8; k++) {
            const __m256i a = FN(r16_bcast)(ab, k), aa = _mm256_abs_epi8(a);
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_maddubs_epi16(aa, _mm256_sign_epi8(w[0][k], a)), one));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_maddubs_epi16(aa, _mm256_sign_epi8(w[1][k], a)), one));
        }
        s[0] = s0;
        s[1] = s1;
    }
#endif
}

static inline void FN(r16_store)(float *y, int nr, __m256 lo, __m256 hi) {
    if (nr == CSIMD_R16) {
        _mm256_storeu_ps(y, lo);
        _mm256_storeu_ps(y + 8, hi);
        return;
    }
    float tmp[CSIMD_R16];
    _mm256_storeu_ps(tmp, lo);
    _mm256_storeu_ps(tmp + 8, hi);
    memcpy(y, tmp, (size_t)nr * sizeof(float));
}

/// T (<= R16_T) tokens against the whole group; T is a constant after inlining.
static inline __attribute__((always_inline)) void FN(r16_tiles)(const int kind, const uint8_t *group, int64_t nb, int nr,
                                                                 const csimd_block_q8a *a, int64_t as, float *y,
                                                                 int64_t ys, const int T) {
    const int64_t tile_bytes = kind == KIND_Q8 ? CSIMD_Q8R16_TILE : kind == KIND_Q4 ? CSIMD_Q4R16_TILE
                             : kind == KIND_Q4N ? CSIMD_Q4NR16_TILE : CSIMD_Q3NR16_TILE;
    __m256 acc[R16_T][2];
    for (int t = 0; t < T; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
    const uint8_t *tile = group;
    for (int64_t b = 0; b < nb; b++, tile += tile_bytes) {
        _mm_prefetch((const char *)(tile + 4 * tile_bytes), _MM_HINT_T0);
        {  // the next group's tile, into L2: memory keeps streaming while this one computes (one token too:
           // tg of dolly-v2-3b-shaped q4 on avx2-vnni +7%)
            const char *next = (const char *)tile + nb * tile_bytes;
            for (int64_t l = 0; l < tile_bytes; l += 64) _mm_prefetch(next + l, _MM_HINT_T1);
        }
        const __m256 dw0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)tile));
        const __m256 dw1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(tile + 16)));
        __m256i w[2][8];
        switch (kind) {
        case KIND_Q8: FN(r16_unpack_q8)(tile, w); break;
        case KIND_Q4: FN(r16_unpack_q4)(tile, w); break;
        case KIND_Q4N: FN(r16_unpack_q4n)(tile, w); break;
        default: FN(r16_unpack_q3n)(tile, w); break;
        }
        for (int t = 0; t < T; t++) {
            const csimd_block_q8a *ab = a + t * as + b;
            __m256i s[2];
            FN(r16_dot)(kind, w, ab, s);
            const __m256 da = _mm256_set1_ps(ab->d);
            acc[t][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[0]), _mm256_mul_ps(dw0, da), acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[1]), _mm256_mul_ps(dw1, da), acc[t][1]);
        }
    }
    for (int t = 0; t < T; t++) FN(r16_store)(y + t * ys, nr, acc[t][0], acc[t][1]);
}

#define KTILE_R16(kind, KIND)                                                                                    \
    void KCAT(csimd_tile_##kind, KSUFFIX)(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a,     \
                                          int64_t as, int nt, float *y, int64_t ys) {                          \
        int t = 0;                                                                                             \
        for (; t + R16_T <= nt; t += R16_T) FN(r16_tiles)(KIND, group, nb, nr, a + t * as, as, y + t * ys, ys, R16_T); \
        switch (nt - t) {                                                                                      \
        case 3: FN(r16_tiles)(KIND, group, nb, nr, a + t * as, as, y + t * ys, ys, 3); break;                   \
        case 2: FN(r16_tiles)(KIND, group, nb, nr, a + t * as, as, y + t * ys, ys, 2); break;                   \
        case 1: FN(r16_tiles)(KIND, group, nb, nr, a + t * as, as, y + t * ys, ys, 1); break;                   \
        default: break;                                                                                        \
        }                                                                                                      \
    }
KTILE_R16(q4r16, KIND_Q4)
KTILE_R16(q8r16, KIND_Q8)
KTILE_R16(q4nr16, KIND_Q4N)
KTILE_R16(q3nr16, KIND_Q3N)
#undef KTILE_R16
#undef R16_T

#undef FN
#undef KCAT
#undef KCAT2
