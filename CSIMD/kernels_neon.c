// aarch64 kernels: "neon" (ASIMD baseline: vmull_s8 + vpadalq_s16) and "neon-dotprod" (vdotq_s32,
// compiled per function with the dotprod target; dispatch.c checks HWCAP_ASIMDDP before using it).
// NEON multiplies signed x signed, so Q4 nibbles simply become nibble - 8 and no offset is needed;
// each block's integer dot is exact, the f32 combination of scales is reordered (bound in csimd_kernels.h).
#include "csimd_kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>

#include "csimd_target.h"  // CSIMD_DOTPROD_TARGET

// ---- Activations f32 -> Q8A (bit-exact with csimd_q8a_quantize_ref) ----
static void q8a_quantize_neon(const float *x, int64_t n, csimd_block_q8a *out) {
    for (int64_t b = 0; b < n / CSIMD_BLOCK_SIZE; b++) {
        const float *xb = x + b * CSIMD_BLOCK_SIZE;
        float32x4_t v[8];
        float32x4_t m = vdupq_n_f32(0.0f);
        for (int i = 0; i < 8; i++) {
            v[i] = vld1q_f32(xb + 4 * i);
            m = vmaxq_f32(m, vabsq_f32(v[i]));
        }
        const float amax = vmaxvq_f32(m);
        const float d = amax / 127.0f;
        const float id = d > 0.0f ? 1.0f / d : 0.0f;
        int32x4_t sum = vdupq_n_s32(0);
        int16x8_t h[4];
        for (int i = 0; i < 4; i++) {
            // vcvtnq: round to nearest, ties to even (lrintf in the default rounding mode).
            int32x4_t q0 = vcvtnq_s32_f32(vmulq_n_f32(v[2 * i], id));
            int32x4_t q1 = vcvtnq_s32_f32(vmulq_n_f32(v[2 * i + 1], id));
            q0 = vminq_s32(vmaxq_s32(q0, vdupq_n_s32(-127)), vdupq_n_s32(127));
            q1 = vminq_s32(vmaxq_s32(q1, vdupq_n_s32(-127)), vdupq_n_s32(127));
            sum = vaddq_s32(sum, vaddq_s32(q0, q1));
            h[i] = vcombine_s16(vmovn_s32(q0), vmovn_s32(q1));
        }
        vst1q_s8(out[b].qs, vcombine_s8(vmovn_s16(h[0]), vmovn_s16(h[1])));
        vst1q_s8(out[b].qs + 16, vcombine_s8(vmovn_s16(h[2]), vmovn_s16(h[3])));
        out[b].d = d;
        out[b].sum = (int16_t)vaddvq_s32(sum);
        out[b].reserved = 0;
    }
}

static inline void q4_unpack(const csimd_block_q4 *b, int8x16_t *lo, int8x16_t *hi) {
    const uint8x16_t q = vld1q_u8(b->qs);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F))), vdupq_n_s8(8));
    *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), vdupq_n_s8(8));
}

static inline float f16_scalar(uint16_t h) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

// 16 x 16 signed bytes -> 4 int32 partial sums, baseline NEON.
static inline int32x4_t dot16_neon(int32x4_t acc, int8x16_t w, int8x16_t a) {
    const int16x8_t p0 = vmull_s8(vget_low_s8(w), vget_low_s8(a));
    const int16x8_t p1 = vmull_high_s8(w, a);
    return vpadalq_s16(vpadalq_s16(acc, p0), p1);
}

static float dot_q4_neon(const csimd_block_q4 *w, const csimd_block_q8a *a, int64_t nb) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        int8x16_t lo, hi;
        q4_unpack(&w[b], &lo, &hi);
        int32x4_t s = dot16_neon(vdupq_n_s32(0), lo, vld1q_s8(a[b].qs));
        s = dot16_neon(s, hi, vld1q_s8(a[b].qs + 16));
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), f16_scalar(w[b].d) * a[b].d);
    }
    return vaddvq_f32(acc);
}

static float dot_q8_neon(const csimd_block_q8 *w, const csimd_block_q8a *a, int64_t nb) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        int32x4_t s = dot16_neon(vdupq_n_s32(0), vld1q_s8(w[b].qs), vld1q_s8(a[b].qs));
        s = dot16_neon(s, vld1q_s8(w[b].qs + 16), vld1q_s8(a[b].qs + 16));
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), f16_scalar(w[b].d) * a[b].d);
    }
    return vaddvq_f32(acc);
}

CSIMD_DOTPROD_TARGET static float dot_q4_neon_dotprod(const csimd_block_q4 *w, const csimd_block_q8a *a, int64_t nb) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        int8x16_t lo, hi;
        q4_unpack(&w[b], &lo, &hi);
        int32x4_t s = vdotq_s32(vdupq_n_s32(0), lo, vld1q_s8(a[b].qs));
        s = vdotq_s32(s, hi, vld1q_s8(a[b].qs + 16));
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), f16_scalar(w[b].d) * a[b].d);
    }
    return vaddvq_f32(acc);
}

CSIMD_DOTPROD_TARGET static float dot_q8_neon_dotprod(const csimd_block_q8 *w, const csimd_block_q8a *a, int64_t nb) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        int32x4_t s = vdotq_s32(vdupq_n_s32(0), vld1q_s8(w[b].qs), vld1q_s8(a[b].qs));
        s = vdotq_s32(s, vld1q_s8(w[b].qs + 16), vld1q_s8(a[b].qs + 16));
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), f16_scalar(w[b].d) * a[b].d);
    }
    return vaddvq_f32(acc);
}

// ---- F32 / F16 / BF16 rows x f32 vector (any n) ----
static float dot_f32_neon(const float *w, const float *x, int64_t n) {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = vfmaq_f32(a0, vld1q_f32(w + i), vld1q_f32(x + i));
        a1 = vfmaq_f32(a1, vld1q_f32(w + i + 4), vld1q_f32(x + i + 4));
        a2 = vfmaq_f32(a2, vld1q_f32(w + i + 8), vld1q_f32(x + i + 8));
        a3 = vfmaq_f32(a3, vld1q_f32(w + i + 12), vld1q_f32(x + i + 12));
    }
    for (; i + 4 <= n; i += 4) a0 = vfmaq_f32(a0, vld1q_f32(w + i), vld1q_f32(x + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; i++) s += w[i] * x[i];
    return s;
}

static inline float32x4_t ld_f16(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
static inline float32x4_t ld_bf16(const uint16_t *p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
static inline float bf16_scalar(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#define KDOT_HALF(name, LD, SCALAR)                                                          \
    static float name(const uint16_t *w, const float *x, int64_t n) {                        \
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;                       \
        int64_t i = 0;                                                                       \
        for (; i + 16 <= n; i += 16) {                                                       \
            a0 = vfmaq_f32(a0, LD(w + i), vld1q_f32(x + i));                                 \
            a1 = vfmaq_f32(a1, LD(w + i + 4), vld1q_f32(x + i + 4));                         \
            a2 = vfmaq_f32(a2, LD(w + i + 8), vld1q_f32(x + i + 8));                         \
            a3 = vfmaq_f32(a3, LD(w + i + 12), vld1q_f32(x + i + 12));                       \
        }                                                                                    \
        for (; i + 4 <= n; i += 4) a0 = vfmaq_f32(a0, LD(w + i), vld1q_f32(x + i));          \
        float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));               \
        for (; i < n; i++) s += SCALAR(w[i]) * x[i];                                         \
        return s;                                                                            \
    }
KDOT_HALF(dot_f16_neon, ld_f16, f16_scalar)
KDOT_HALF(dot_bf16_neon, ld_bf16, bf16_scalar)
#undef KDOT_HALF

const csimd_kernel_table csimd_kernels_neon = {
    .name = "neon",
    .ops = &csimd_ops_portable,
    .q8a_quantize = q8a_quantize_neon,
    .dot_q8 = dot_q8_neon,
    .dot_q4 = dot_q4_neon,
    .dot_f32 = dot_f32_neon,
    .dot_f16 = dot_f16_neon,
    .dot_bf16 = dot_bf16_neon,
    .tile_q8 = NULL,  // matrix_quant.c loops over the dots
    .tile_q4 = NULL,
    .tile_q4r16 = csimd_tile_q4r16_neon,  // kernels_neon_r16.c
    .tile_q4nr16 = csimd_tile_q4nr16_neon,
    .tile_q3nr16 = csimd_tile_q3nr16_neon,
    .tile_q8r16 = csimd_tile_q8r16_neon,
    .lora_down_q8 = csimd_lora_down_q8_neon,  // lora_neon.c, shared
    .lora_up_f32 = csimd_lora_up_f32_neon,
    .lora_up_f16 = csimd_lora_up_f16_neon,
    .lora_up_q8 = csimd_lora_up_q8_neon,
};

const csimd_kernel_table csimd_kernels_neon_dotprod = {
    .name = "neon-dotprod",
    .ops = &csimd_ops_portable,
    .q8a_quantize = q8a_quantize_neon,
    .dot_q8 = dot_q8_neon_dotprod,
    .dot_q4 = dot_q4_neon_dotprod,
    .dot_f32 = dot_f32_neon,
    .dot_f16 = dot_f16_neon,
    .dot_bf16 = dot_bf16_neon,
    .tile_q8 = NULL,
    .tile_q4 = NULL,
    .tile_q4r16 = csimd_tile_q4r16_neon_dotprod,
    .tile_q4nr16 = csimd_tile_q4nr16_neon_dotprod,
    .tile_q3nr16 = csimd_tile_q3nr16_neon_dotprod,
    .tile_q8r16 = csimd_tile_q8r16_neon_dotprod,
    .lora_down_q8 = csimd_lora_down_q8_neon,  // lora_neon.c, shared
    .lora_up_f32 = csimd_lora_up_f32_neon,
    .lora_up_f16 = csimd_lora_up_f16_neon,
    .lora_up_q8 = csimd_lora_up_q8_neon,
};
#endif
