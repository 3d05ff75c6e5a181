//! The activations' 8-bit quantization (`crate::act`) with NEON.

use std::arch::aarch64::*;

/// `x ≈ d · q` as `crate::act::scalar::quantize_run` computes it, for `x` a multiple of 8 long
/// (the dispatcher checks) and `q` as long.
#[target_feature(enable = "neon")]
pub(crate) fn quantize_run(x: &[f32], q: &mut [i8]) -> f32 {
    // SAFETY: every load reads a chunk of 4 floats (`chunks_exact(4)`, or the halves of a
    // chunk of 8), every store 8 codes of a chunk of 8 of `q`.
    unsafe {
        let mut m = vdupq_n_f32(0.0);
        for c in x.chunks_exact(4) {
            m = vmaxq_f32(m, vabsq_f32(vld1q_f32(c.as_ptr())));
        }
        // NaN is looked for apart, as in the other paths.
        let amax = if x.iter().any(|v| v.is_nan()) {
            f32::NAN
        } else {
            vmaxvq_f32(m)
        };
        let Some(id) = crate::common::q8::inverse_scale(amax) else {
            q.fill(0);
            return if amax.is_finite() { 0.0 } else { f32::NAN };
        };
        let (vid, lo, hi) = (vdupq_n_f32(id), vdupq_n_f32(-127.0), vdupq_n_f32(127.0));
        let code = |p: *const f32| {
            let r = vrndnq_f32(vmulq_f32(vld1q_f32(p), vid));
            vmovn_s32(vcvtq_s32_f32(vminq_f32(vmaxq_f32(r, lo), hi)))
        };
        for (c, q) in x.chunks_exact(8).zip(q.chunks_exact_mut(8)) {
            let codes = vcombine_s16(code(c.as_ptr()), code(c.as_ptr().add(4)));
            vst1_s8(q.as_mut_ptr(), vmovn_s16(codes));
        }
        amax / 127.0
    }
}
