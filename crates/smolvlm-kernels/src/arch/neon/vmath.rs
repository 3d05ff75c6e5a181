//! The element-wise math on AArch64 NEON, four lanes at a time: the same Cephes exp as the x86
//! kernels, so every level agrees to the polynomial's rounding.

use crate::common::math::{
    EXP_HI, EXP_LO, GELU_C, LN2_HI, LN2_LO, LOG2E, P0, P1, P2, P3, P4, P5, SQRT_2_OVER_PI,
    gelu_tanh_scalar, silu_scalar,
};
use std::arch::aarch64::*;

#[inline]
#[target_feature(enable = "neon")]
fn exp(x: float32x4_t) -> float32x4_t {
    let x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(EXP_LO)), vdupq_n_f32(EXP_HI));
    let n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(LOG2E)));
    let r = vfmsq_f32(x, n, vdupq_n_f32(LN2_HI));
    let r = vfmsq_f32(r, n, vdupq_n_f32(LN2_LO));
    let mut p = vdupq_n_f32(P0);
    for c in [P1, P2, P3, P4, P5] {
        p = vfmaq_f32(vdupq_n_f32(c), p, r);
    }
    let p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0)), p, vmulq_f32(r, r));
    // 2ⁿ from the exponent bits; n ∈ [−127, 128] after the clamp, and 2¹²⁸ is split in two
    // halves so the bits never overflow.
    let ni = vcvtq_s32_f32(n);
    let half = vshrq_n_s32::<1>(ni);
    let bias = vdupq_n_s32(127);
    let s1 = vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32(half, bias)));
    let s2 = vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32(vsubq_s32(ni, half), bias)));
    vmulq_f32(vmulq_f32(p, s1), s2)
}

/// Panics unless the rows are equally long.
#[target_feature(enable = "neon")]
pub(crate) fn silu_mul(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "silu_mul of unequal rows");
    let one = vdupq_n_f32(1.0);
    let mut i = 0;
    while i + 4 <= gate.len() {
        // SAFETY: i + 4 ≤ gate.len() = up.len() (asserted): 4 floats at i of each.
        unsafe {
            let g = vld1q_f32(gate.as_ptr().add(i));
            let s = vdivq_f32(g, vaddq_f32(one, exp(vnegq_f32(g))));
            vst1q_f32(
                gate.as_mut_ptr().add(i),
                vmulq_f32(s, vld1q_f32(up.as_ptr().add(i))),
            );
        }
        i += 4;
    }
    for (g, &u) in gate[i..].iter_mut().zip(&up[i..]) {
        *g = silu_scalar(*g) * u;
    }
}

#[target_feature(enable = "neon")]
pub(crate) fn exp_shifted(x: &mut [f32], a: f32, b: f32) -> f32 {
    let (va, vb) = (vdupq_n_f32(a), vdupq_n_f32(b));
    // Two sums, so consecutive vectors do not wait on each other's addition.
    let (mut s0, mut s1) = (vdupq_n_f32(0.0), vdupq_n_f32(0.0));
    let mut pairs = x.chunks_exact_mut(8);
    for c in &mut pairs {
        // SAFETY: `c` is a chunk of 8 floats, two vectors.
        unsafe {
            let v0 = exp(vfmaq_f32(vb, vld1q_f32(c.as_ptr()), va));
            let v1 = exp(vfmaq_f32(vb, vld1q_f32(c.as_ptr().add(4)), va));
            s0 = vaddq_f32(s0, v0);
            s1 = vaddq_f32(s1, v1);
            vst1q_f32(c.as_mut_ptr(), v0);
            vst1q_f32(c.as_mut_ptr().add(4), v1);
        }
    }
    let mut total = vaddvq_f32(vaddq_f32(s0, s1));
    for v in pairs.into_remainder() {
        *v = (a * *v + b).exp();
        total += *v;
    }
    total
}

#[inline]
#[target_feature(enable = "neon")]
fn gelu(x: float32x4_t) -> float32x4_t {
    let x3 = vmulq_f32(vmulq_f32(x, x), x);
    let u = vmulq_f32(
        vfmaq_f32(x, x3, vdupq_n_f32(GELU_C)),
        vdupq_n_f32(2.0 * SQRT_2_OVER_PI),
    );
    let e = vaddq_f32(exp(u), vdupq_n_f32(1.0));
    vsubq_f32(x, vdivq_f32(x, e))
}

#[target_feature(enable = "neon")]
pub(crate) fn gelu_tanh(x: &mut [f32]) {
    let mut chunks = x.chunks_exact_mut(4);
    for c in &mut chunks {
        // SAFETY: `c` is a chunk of 4 floats, one vector.
        unsafe { vst1q_f32(c.as_mut_ptr(), gelu(vld1q_f32(c.as_ptr()))) };
    }
    for v in chunks.into_remainder() {
        *v = gelu_tanh_scalar(*v);
    }
}
