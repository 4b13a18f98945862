// Body of the 256-bit x86 kernels, included twice by kernels_avx2.c:
//   KVNNI 0: AVX2 + FMA + F16C; integer dots with vpmaddubsw/vpmaddwd (sign trick for Q8,
//            offset trick with a per-activation i16 correction for Q4; neither saturates).
//   KVNNI 1: the same plus AVX-VNNI vpdpbusd (u8 x s8 -> i32, no saturation), offset trick for both:
//            weights become unsigned (Q4 nibble = w + 8, Q8 byte ^ 0x80 = w + 128) and the accumulator
//            starts at -K * (lane sums of the activations), so each lane holds an exact partial dot.
// R16 tiles (tile_q4r16 / tile_q8r16) are at the end, same KVNNI split.
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

// ---- R16 row-interleaved tiles (csimd_blocks.h): one group of 16 rows x up to R16_T tokens ----
// A tile's 64-byte vector k is two ymm halves, rows 0-7 (h = 0) and rows 8-15 (h = 1); dword lane r
// of a half holds row r's 4 weights for activation dword k (Q4: k = 2j low nibbles of vector j,
// k = 2j + 1 high nibbles). Each weight vector is unpacked once per tile and reused for R16_T tokens.
//   KVNNI 0, Q4: vpmaddubsw(nibble u8 0..15, a s8) summed over all 8 k in i16 (|lane| <= 16 * 15 * 127
//                = 30480 < 32767: no saturation), one vpmaddwd by ones, then -8 * sum(qa).
//   KVNNI 0, Q8: w = stored ^ 0x80 (s8), sign trick vpmaddubsw(|a|, sign(w, a)) (pairs <= 2 * 127 * 127
//                < 32767), vpmaddwd by ones per k; no offset.
//   KVNNI 1:     vpdpbusd on the stored unsigned bytes, accumulator started at -offset * sum(qa), two
//                chains per half, exactly as the AVX-512 kernel (kernels_avx512_r16.c) on ymm halves.
#define R16_T 4

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

/// s[h] = exact block dots of rows 8h..8h+7 with activation block ab (offset already removed).
static inline __attribute__((always_inline)) void FN(r16_dot)(const int q8, const __m256i w[2][8],
                                                               const csimd_block_q8a *ab, __m256i s[2]) {
#if KVNNI
    const __m256i c = _mm256_set1_epi32((q8 ? -128 : -8) * (int32_t)ab->sum);
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
    if (!q8) {
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
static inline __attribute__((always_inline)) void FN(r16_tiles)(const int q8, const uint8_t *group, int64_t nb, int nr,
                                                                 const csimd_block_q8a *a, int64_t as, float *y,
                                                                 int64_t ys, const int T) {
    const int64_t tile_bytes = q8 ? CSIMD_Q8R16_TILE : CSIMD_Q4R16_TILE;
    __m256 acc[R16_T][2];
    for (int t = 0; t < T; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
    const uint8_t *tile = group;
    for (int64_t b = 0; b < nb; b++, tile += tile_bytes) {
        _mm_prefetch((const char *)(tile + 4 * tile_bytes), _MM_HINT_T0);
        const __m256 dw0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)tile));
        const __m256 dw1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(tile + 16)));
        __m256i w[2][8];
        if (q8) FN(r16_unpack_q8)(tile, w);
        else FN(r16_unpack_q4)(tile, w);
        for (int t = 0; t < T; t++) {
            const csimd_block_q8a *ab = a + t * as + b;
            __m256i s[2];
            FN(r16_dot)(q8, w, ab, s);
            const __m256 da = _mm256_set1_ps(ab->d);
            acc[t][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[0]), _mm256_mul_ps(dw0, da), acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[1]), _mm256_mul_ps(dw1, da), acc[t][1]);
        }
    }
    for (int t = 0; t < T; t++) FN(r16_store)(y + t * ys, nr, acc[t][0], acc[t][1]);
}

#define KTILE_R16(kind, Q8)                                                                                    \
    static void FN(tile_##kind)(const uint8_t *group, int64_t nb, int nr, const csimd_block_q8a *a, int64_t as, \
                                int nt, float *y, int64_t ys) {                                                \
        int t = 0;                                                                                             \
        for (; t + R16_T <= nt; t += R16_T) FN(r16_tiles)(Q8, group, nb, nr, a + t * as, as, y + t * ys, ys, R16_T); \
        switch (nt - t) {                                                                                      \
        case 3: FN(r16_tiles)(Q8, group, nb, nr, a + t * as, as, y + t * ys, ys, 3); break;                   \
        case 2: FN(r16_tiles)(Q8, group, nb, nr, a + t * as, as, y + t * ys, ys, 2); break;                   \
        case 1: FN(r16_tiles)(Q8, group, nb, nr, a + t * as, as, y + t * ys, ys, 1); break;                   \
        default: break;                                                                                        \
        }                                                                                                      \
    }
KTILE_R16(q4r16, 0)
KTILE_R16(q8r16, 1)
#undef KTILE_R16
#undef R16_T

#undef FN
#undef KCAT
#undef KCAT2
