// Body of the 256-bit x86 kernels, included twice by kernels_avx2.c:
//   KVNNI 0: AVX2 + FMA + F16C; integer dots with vpmaddubsw/vpmaddwd (sign trick for Q8,
//            offset trick with a per-activation i16 correction for Q4; neither saturates).
//   KVNNI 1: the same plus AVX-VNNI vpdpbusd (u8 x s8 -> i32, no saturation), offset trick for both:
//            weights become unsigned (Q4 nibble = w + 8, Q8 byte ^ 0x80 = w + 128) and the accumulator
//            starts at -K * (lane sums of the activations), so each lane holds an exact partial dot.
// The R16 tiles are in kernels_avx2_r16_body.h (kernels_avx2_r16.c), with the same KVNNI split.
// Expects KSUFFIX (function name suffix) and KVNNI. Target attributes are applied by the includer.

#define KCAT2(a, b) a##b
#define KCAT(a, b) KCAT2(a, b)
#define FN(name) KCAT(name, KSUFFIX)

static inline float FN(hsum_ps)(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int32_t FN(hsum_epi32)(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

// ---- Activations f32 -> Q8A (bit-exact with csimd_q8a_quantize_ref) ----
static void FN(q8a_quantize)(const float *x, int64_t n, csimd_block_q8a *out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t b = 0; b < n / CSIMD_BLOCK_SIZE; b++) {
        const float *xb = x + b * CSIMD_BLOCK_SIZE;
        __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
        __m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                 _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const float d = amax / 127.0f;
        const float id = d > 0.0f ? 1.0f / d : 0.0f;
        const __m256 vid = _mm256_set1_ps(id);
        // cvtps rounds with MXCSR (nearest-even by default), like lrintf in the reference.
        __m256i i0 = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v0, vid)), lo), hi);
        __m256i i1 = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v1, vid)), lo), hi);
        __m256i i2 = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v2, vid)), lo), hi);
        __m256i i3 = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v3, vid)), lo), hi);
        const int32_t sum = FN(hsum_epi32)(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
        p = _mm256_permutevar8x32_epi32(p, perm);
        _mm256_storeu_si256((__m256i *)out[b].qs, p);
        out[b].d = d;
        out[b].sum = (int16_t)sum;
        out[b].reserved = 0;
    }
}

// ---- Integer block products ----
// Q4 weights: 16 bytes -> 32 unsigned nibbles in element order [low nibbles | high nibbles].
static inline __m256i FN(q4_unpack)(const uint8_t *qs) {
    const __m128i q = _mm_loadu_si128((const __m128i *)qs);
    const __m128i m = _mm_set1_epi8(0x0F);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
}

#if KVNNI
// c = -8 * (lane sums of a); lane result = sum (nib - 8) * a, exact.
static inline __m256i FN(q4_act_prep)(__m256i a) {
    return _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), a));
}
static inline __m256i FN(q4_pair)(__m256i w, __m256i a, __m256i c) { return _mm256_dpbusd_avx_epi32(c, w, a); }
static inline __m256i FN(q8_w_prep)(__m256i w) { return _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80)); }
static inline __m256i FN(q8_act_prep)(__m256i a) {
    return _mm256_sub_epi32(_mm256_setzero_si256(),
                            _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), _mm256_set1_epi8((char)0x80), a));
}
static inline __m256i FN(q8_pair)(__m256i w, __m256i a, __m256i c) { return _mm256_dpbusd_avx_epi32(c, w, a); }
#else
// c = 8 * (pair sums of a) as i16; (nib * a pairs) - c stays within +-3810 + 2032: no saturation.
static inline __m256i FN(q4_act_prep)(__m256i a) { return _mm256_maddubs_epi16(_mm256_set1_epi8(8), a); }
static inline __m256i FN(q4_pair)(__m256i w, __m256i a, __m256i c) {
    return _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(w, a), c), _mm256_set1_epi16(1));
}
// Sign trick: |w| (u8 <= 127) x sign(w) * a: pair sums <= 2 * 127 * 127 < 32767, no saturation.
static inline __m256i FN(q8_w_prep)(__m256i w) { return w; }
static inline __m256i FN(q8_act_prep)(__m256i a) { (void)a; return _mm256_setzero_si256(); }
static inline __m256i FN(q8_pair)(__m256i w, __m256i a, __m256i c) {
    (void)c;
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(a, w)), _mm256_set1_epi16(1));
}
#endif

// One weight-row tile (R rows) against T activation rows; R, T are compile-time constants after inlining,
// so the R * T accumulators stay in registers and each weight block is loaded once per tile.
static inline __attribute__((always_inline)) void FN(tile_q4_rt)(const void *w, int64_t ws, const csimd_block_q8a *a,
                                                                  int64_t as, int64_t nb, float *y, int64_t ys,
                                                                  const int R, const int T) {
    __m256 acc[CSIMD_TILE_R][CSIMD_TILE_T];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i wv[CSIMD_TILE_R];
        __m256 dw[CSIMD_TILE_R];
        for (int r = 0; r < R; r++) {
            const csimd_block_q4 *wb = (const csimd_block_q4 *)((const char *)w + r * ws) + b;
            wv[r] = FN(q4_unpack)(wb->qs);
            dw[r] = _mm256_set1_ps(_cvtsh_ss(wb->d));
        }
        for (int t = 0; t < T; t++) {
            const csimd_block_q8a *ab = a + t * as + b;
            const __m256i av = _mm256_loadu_si256((const __m256i *)ab->qs);
            const __m256i c = FN(q4_act_prep)(av);
            const __m256 da = _mm256_set1_ps(ab->d);
            for (int r = 0; r < R; r++) {
                const __m256i s = FN(q4_pair)(wv[r], av, c);
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw[r], da), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) y[t * ys + r] = FN(hsum_ps)(acc[r][t]);
}

static inline __attribute__((always_inline)) void FN(tile_q8_rt)(const void *w, int64_t ws, const csimd_block_q8a *a,
                                                                  int64_t as, int64_t nb, float *y, int64_t ys,
                                                                  const int R, const int T) {
    __m256 acc[CSIMD_TILE_R][CSIMD_TILE_T];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i wv[CSIMD_TILE_R];
        __m256 dw[CSIMD_TILE_R];
        for (int r = 0; r < R; r++) {
            const csimd_block_q8 *wb = (const csimd_block_q8 *)((const char *)w + r * ws) + b;
            wv[r] = FN(q8_w_prep)(_mm256_loadu_si256((const __m256i *)wb->qs));
            dw[r] = _mm256_set1_ps(_cvtsh_ss(wb->d));
        }
        for (int t = 0; t < T; t++) {
            const csimd_block_q8a *ab = a + t * as + b;
            const __m256i av = _mm256_loadu_si256((const __m256i *)ab->qs);
            const __m256i c = FN(q8_act_prep)(av);
            const __m256 da = _mm256_set1_ps(ab->d);
            for (int r = 0; r < R; r++) {
                const __m256i s = FN(q8_pair)(wv[r], av, c);
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw[r], da), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) y[t * ys + r] = FN(hsum_ps)(acc[r][t]);
}

#define KTILE_DISPATCH(kind)                                                                              \
    static void FN(tile_##kind)(const void *w, int64_t ws, int nr, const csimd_block_q8a *a, int64_t as, \
                                int nt, int64_t nb, float *y, int64_t ys) {                              \
        if (nr == CSIMD_TILE_R) {                                                                         \
            switch (nt) {                                                                                 \
            case 4: FN(tile_##kind##_rt)(w, ws, a, as, nb, y, ys, 4, 4); return;                          \
            case 3: FN(tile_##kind##_rt)(w, ws, a, as, nb, y, ys, 4, 3); return;                          \
            case 2: FN(tile_##kind##_rt)(w, ws, a, as, nb, y, ys, 4, 2); return;                          \
            default: FN(tile_##kind##_rt)(w, ws, a, as, nb, y, ys, 4, 1); return;                         \
            }                                                                                             \
        }                                                                                                 \
        for (int r = 0; r < nr; r++) {                                                                    \
            const void *wr = (const char *)w + r * ws;                                                    \
            int t = 0;                                                                                    \
            for (; t + 4 <= nt; t += 4) FN(tile_##kind##_rt)(wr, ws, a + t * as, as, nb, y + t * ys + r, ys, 1, 4); \
            for (; t < nt; t++) FN(tile_##kind##_rt)(wr, ws, a + t * as, as, nb, y + t * ys + r, ys, 1, 1);       \
        }                                                                                                 \
    }
KTILE_DISPATCH(q4)
KTILE_DISPATCH(q8)
#undef KTILE_DISPATCH

static float FN(dot_q4)(const csimd_block_q4 *w, const csimd_block_q8a *a, int64_t nb) {
    float y;
    FN(tile_q4_rt)(w, 0, a, 0, nb, &y, 1, 1, 1);
    return y;
}

static float FN(dot_q8)(const csimd_block_q8 *w, const csimd_block_q8a *a, int64_t nb) {
    float y;
    FN(tile_q8_rt)(w, 0, a, 0, nb, &y, 1, 1, 1);
    return y;
}

// ---- F32 / F16 / BF16 rows x f32 vector (any n) ----
static float FN(dot_f32)(const float *w, const float *x, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
    float s = FN(hsum_ps)(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += w[i] * x[i];
    return s;
}

static inline __m256 FN(load_f16x8)(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline __m256 FN(load_bf16x8)(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

#define KDOT_HALF(kind, widen, scalar)                                                            \
    static float FN(dot_##kind)(const uint16_t *w, const float *x, int64_t n) {                   \
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                                \
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();                                \
        int64_t i = 0;                                                                            \
        for (; i + 32 <= n; i += 32) {                                                            \
            a0 = _mm256_fmadd_ps(widen(w + i), _mm256_loadu_ps(x + i), a0);                       \
            a1 = _mm256_fmadd_ps(widen(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);               \
            a2 = _mm256_fmadd_ps(widen(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);             \
            a3 = _mm256_fmadd_ps(widen(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);             \
        }                                                                                         \
        for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(widen(w + i), _mm256_loadu_ps(x + i), a0); \
        float s = FN(hsum_ps)(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));       \
        for (; i < n; i++) s += scalar(w[i]) * x[i];                                              \
        return s;                                                                                 \
    }

static inline float FN(f16_scalar)(uint16_t h) { return _cvtsh_ss(h); }
static inline float FN(bf16_scalar)(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
KDOT_HALF(f16, FN(load_f16x8), FN(f16_scalar))
KDOT_HALF(bf16, FN(load_bf16x8), FN(bf16_scalar))
#undef KDOT_HALF

#undef FN
#undef KCAT
#undef KCAT2
