// LoRA kernels for aarch64 NEON (contracts and twins: csimd_kernels.h, lora_ref.c); "neon" and
// "neon-dotprod" share them (f32 arithmetic: the q8 values are widened, no integer dots).
#include "csimd_kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>

static inline float32x4_t f16x4(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

/// A q8 block's scale: one fcvt, not the out-of-line software conversion per block that
/// csimd_f16_to_f32 is (the same value: the conversion is exact).
static inline float f16_scalar(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }

/// 16 signed bytes at p widened to four f32 vectors.
static inline void q8x16(const int8_t *p, float32x4_t v[4]) {
    const int8x16_t q = vld1q_s8(p);
    const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_high_s8(q);
    v[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
    v[1] = vcvtq_f32_s32(vmovl_high_s16(lo));
    v[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
    v[3] = vcvtq_f32_s32(vmovl_high_s16(hi));
}

float csimd_lora_down_q8_neon(const csimd_block_q8 *a, const float *x, int64_t nb) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * CSIMD_BLOCK_SIZE;
        float32x4_t s = vdupq_n_f32(0.0f), v[4];
        for (int h = 0; h < 2; h++) {
            q8x16(a[b].qs + 16 * h, v);
            for (int i = 0; i < 4; i++) s = vfmaq_f32(s, v[i], vld1q_f32(xb + 16 * h + 4 * i));
        }
        acc = vfmaq_n_f32(acc, s, f16_scalar(a[b].d));
    }
    return vaddvq_f32(acc);
}

/// bt[i..i+4) as f32, from f16 or f32 elements.
static inline float32x4_t bt4(const void *bt, int f16, int64_t i) {
    return f16 ? f16x4((const uint16_t *)bt + i) : vld1q_f32((const float *)bt + i);
}

/// The f16 and f32 up projections differ only in how bt's values are read: one body, inlined into
/// each with `f16` a constant, so each keeps its own branch-free loop.
static inline __attribute__((always_inline)) void up_neon(const void *bt, int f16, int64_t rank, int64_t stride,
                                                          const float *t, float s, float *y, int64_t n) {
    int64_t o = 0;
    for (; o + 16 <= n; o += 16) {
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t k = 0; k < rank; k++) {
            const int64_t row = k * stride + o;
            a0 = vfmaq_n_f32(a0, bt4(bt, f16, row), t[k]);
            a1 = vfmaq_n_f32(a1, bt4(bt, f16, row + 4), t[k]);
            a2 = vfmaq_n_f32(a2, bt4(bt, f16, row + 8), t[k]);
            a3 = vfmaq_n_f32(a3, bt4(bt, f16, row + 12), t[k]);
        }
        vst1q_f32(y + o, vfmaq_n_f32(vld1q_f32(y + o), a0, s));
        vst1q_f32(y + o + 4, vfmaq_n_f32(vld1q_f32(y + o + 4), a1, s));
        vst1q_f32(y + o + 8, vfmaq_n_f32(vld1q_f32(y + o + 8), a2, s));
        vst1q_f32(y + o + 12, vfmaq_n_f32(vld1q_f32(y + o + 12), a3, s));
    }
    for (; o + 4 <= n; o += 4) {
        float32x4_t a0 = vdupq_n_f32(0.0f);
        for (int64_t k = 0; k < rank; k++) a0 = vfmaq_n_f32(a0, bt4(bt, f16, k * stride + o), t[k]);
        vst1q_f32(y + o, vfmaq_n_f32(vld1q_f32(y + o), a0, s));
    }
    if (o < n) {  // < 4 outputs
        if (f16) csimd_lora_up_f16_ref((const uint16_t *)bt + o, rank, stride, t, s, y + o, n - o);
        else csimd_lora_up_f32_ref((const float *)bt + o, rank, stride, t, s, y + o, n - o);
    }
}

void csimd_lora_up_f16_neon(const uint16_t *bt, int64_t rank, int64_t stride, const float *t, float s, float *y,
                            int64_t n) {
    up_neon(bt, 1, rank, stride, t, s, y, n);
}

void csimd_lora_up_f32_neon(const float *bt, int64_t rank, int64_t stride, const float *t, float s, float *y,
                            int64_t n) {
    up_neon(bt, 0, rank, stride, t, s, y, n);
}

void csimd_lora_up_q8_neon(const csimd_block_q8 *bt, int64_t rank, int64_t stride, const float *t, float s, float *y,
                           int64_t nb) {
    for (int64_t b = 0; b < nb; b++) {
        float32x4_t acc[8];
        for (int i = 0; i < 8; i++) acc[i] = vdupq_n_f32(0.0f);
        for (int64_t k = 0; k < rank; k++) {
            const csimd_block_q8 *blk = bt + k * stride + b;
            const float c = t[k] * f16_scalar(blk->d);
            float32x4_t v[4];
            q8x16(blk->qs, v);
            for (int i = 0; i < 4; i++) acc[i] = vfmaq_n_f32(acc[i], v[i], c);
            q8x16(blk->qs + 16, v);
            for (int i = 0; i < 4; i++) acc[4 + i] = vfmaq_n_f32(acc[4 + i], v[i], c);
        }
        float *yb = y + b * CSIMD_BLOCK_SIZE;
        for (int i = 0; i < 8; i++) vst1q_f32(yb + 4 * i, vfmaq_n_f32(vld1q_f32(yb + 4 * i), acc[i], s));
    }
}
#endif
