//! The portable 8-bit quantization of a run of activations.

use crate::common::q8::inverse_scale;

/// `x ≈ d · q` with `d = max|x| / 127`, rounding to nearest (ties to even): the reference of the
/// vector kernels in `crate::arch`.
pub(crate) fn quantize_run(x: &[f32], q: &mut [i8]) -> f32 {
    let amax = if x.iter().any(|v| v.is_nan()) {
        f32::NAN
    } else {
        x.iter().fold(0f32, |m, v| m.max(v.abs()))
    };
    let Some(id) = inverse_scale(amax) else {
        q.fill(0);
        return if amax.is_finite() { 0.0 } else { f32::NAN };
    };
    for (q, &v) in q.iter_mut().zip(x) {
        *q = (v * id).round_ties_even().clamp(-127.0, 127.0) as i8;
    }
    amax / 127.0
}
