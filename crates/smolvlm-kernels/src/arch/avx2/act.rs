//! The activations' 8-bit quantization (`crate::act`) with AVX2.

use std::arch::x86_64::*;

/// A single-token product quantizes its input on the calling thread while the others wait; in
/// scalar code (a `roundf` call per value) that was ~4 % of a decode step.
///
/// `x ≈ d · q` as `crate::act::scalar::quantize_run` computes it, for `x` a multiple of 8 long
/// (the dispatcher checks) and `q` as long.
#[target_feature(enable = "avx2")]
pub(crate) fn quantize_run(x: &[f32], q: &mut [i8]) -> f32 {
    let sign = _mm256_set1_ps(-0.0);
    let mut m = _mm256_setzero_ps();
    for c in x.chunks_exact(8) {
        // SAFETY: `c` is a chunk of 8 floats.
        let v = unsafe { _mm256_loadu_ps(c.as_ptr()) };
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v));
    }
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` is 8 floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), m) };
    // A NaN anywhere makes the scale NaN (the answer shows the model broke), as in the
    // scalar path; `max` alone would skip it.
    let amax = if x.iter().any(|v| v.is_nan()) {
        f32::NAN
    } else {
        lanes.iter().fold(0f32, |a, &b| a.max(b))
    };
    let Some(id) = crate::common::q8::inverse_scale(amax) else {
        q.fill(0);
        return if amax.is_finite() { 0.0 } else { f32::NAN };
    };
    let (vid, lo, hi) = (
        _mm256_set1_ps(id),
        _mm256_set1_ps(-127.0),
        _mm256_set1_ps(127.0),
    );
    for (c, q) in x.chunks_exact(8).zip(q.chunks_exact_mut(8)) {
        // SAFETY: `c` is a chunk of 8 floats.
        let v = _mm256_mul_ps(unsafe { _mm256_loadu_ps(c.as_ptr()) }, vid);
        let r = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v);
        let r = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(r, lo), hi));
        let mut ints = [0i32; 8];
        // SAFETY: `ints` is 8 i32, one vector.
        unsafe { _mm256_storeu_si256(ints.as_mut_ptr() as *mut __m256i, r) };
        for (q, &i) in q.iter_mut().zip(&ints) {
            *q = i as i8;
        }
    }
    amax / 127.0
}
