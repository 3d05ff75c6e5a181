//! Activations quantized to 8 bits per row, so that a weight row times an activation row is an
//! integer dot product (what makes quantized matrix products fast on CPUs). Two layouts, matching
//! the weights' block lengths: 32-element blocks for the legacy formats and 256-element
//! super-blocks with 16-element sums for the k-quants.

use crate::formats::QK_K;

/// 32 activations: `x ≈ d · q`, with the integer sum of `q` kept for the formats whose weights
/// have an offset (Q4_0's −8, Q4_1's min, …).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
pub struct Q8Block {
    pub d: f32,
    pub sum: i32,
    pub q: [i8; 32],
}

/// 256 activations with the sum of each run of 16 (the k-quants' mins and Q6_K's offset).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
pub struct Q8KBlock {
    pub d: f32,
    pub q: [i8; QK_K],
    pub bsums: [i16; 16],
}

/// `x ≈ d · q` with `d = max|x| / 127`, rounding to nearest (ties to even, as the vector
/// rounding does, so every SIMD level gives the same codes).
fn quantize_run(x: &[f32], q: &mut [i8]) -> f32 {
    quantize_run_vector(x, q).unwrap_or_else(|| quantize_run_scalar(x, q))
}

/// The vector path, where this CPU has one (and `x` is a multiple of 8 long).
fn quantize_run_vector(x: &[f32], q: &mut [i8]) -> Option<f32> {
    use crate::SimdLevel;
    if !x.len().is_multiple_of(8) {
        return None;
    }
    let level = SimdLevel::detect();
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx2 {
        // Safety: AVX2 was detected.
        return Some(unsafe { quantize_run_avx2(x, q) });
    }
    #[cfg(target_arch = "aarch64")]
    if level == SimdLevel::Neon {
        // Safety: NEON was detected.
        return Some(unsafe { quantize_run_neon(x, q) });
    }
    let _ = level;
    None
}

fn quantize_run_scalar(x: &[f32], q: &mut [i8]) -> f32 {
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

/// `1 / d` for `d = amax / 127`; `None` when every value is 0 or one is not finite.
fn inverse_scale(amax: f32) -> Option<f32> {
    (amax != 0.0 && amax.is_finite()).then(|| 1.0 / (amax / 127.0))
}

/// A single-token product quantizes its input on the calling thread while the others wait; in
/// scalar code (a `roundf` call per value) that was ~4 % of a decode step.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_run_avx2(x: &[f32], q: &mut [i8]) -> f32 {
    use std::arch::x86_64::*;
    unsafe {
        let sign = _mm256_set1_ps(-0.0);
        let mut m = _mm256_setzero_ps();
        for c in x.chunks_exact(8) {
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(c.as_ptr())));
        }
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), m);
        // A NaN anywhere makes the scale NaN (the answer shows the model broke), as in the
        // scalar path; `max` alone would skip it.
        let amax = if x.iter().any(|v| v.is_nan()) {
            f32::NAN
        } else {
            lanes.iter().fold(0f32, |a, &b| a.max(b))
        };
        let Some(id) = inverse_scale(amax) else {
            q.fill(0);
            return if amax.is_finite() { 0.0 } else { f32::NAN };
        };
        let (vid, lo, hi) = (
            _mm256_set1_ps(id),
            _mm256_set1_ps(-127.0),
            _mm256_set1_ps(127.0),
        );
        for (c, q) in x.chunks_exact(8).zip(q.chunks_exact_mut(8)) {
            let v = _mm256_mul_ps(_mm256_loadu_ps(c.as_ptr()), vid);
            let r = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v);
            let r = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(r, lo), hi));
            let mut ints = [0i32; 8];
            _mm256_storeu_si256(ints.as_mut_ptr() as *mut __m256i, r);
            for (q, &i) in q.iter_mut().zip(&ints) {
                *q = i as i8;
            }
        }
        amax / 127.0
    }
}

#[cfg(target_arch = "aarch64")]
#[target_feature(enable = "neon")]
unsafe fn quantize_run_neon(x: &[f32], q: &mut [i8]) -> f32 {
    use std::arch::aarch64::*;
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
        let Some(id) = inverse_scale(amax) else {
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

/// Quantizes `x` (a multiple of 32 long) into `out`.
pub fn quantize_q8(x: &[f32], out: &mut Vec<Q8Block>) {
    out.clear();
    out.extend(x.chunks_exact(32).map(|c| {
        let mut b = Q8Block {
            d: 0.0,
            sum: 0,
            q: [0; 32],
        };
        b.d = quantize_run(c, &mut b.q);
        b.sum = b.q.iter().map(|&v| v as i32).sum();
        b
    }));
}

/// Quantizes `x` (a multiple of 256 long) into `out`.
pub fn quantize_q8k(x: &[f32], out: &mut Vec<Q8KBlock>) {
    out.clear();
    out.extend(x.chunks_exact(QK_K).map(|c| {
        let mut b = Q8KBlock {
            d: 0.0,
            q: [0; QK_K],
            bsums: [0; 16],
        };
        b.d = quantize_run(c, &mut b.q);
        for (s, run) in b.bsums.iter_mut().zip(b.q.chunks_exact(16)) {
            *s = run.iter().map(|&v| v as i16).sum();
        }
        b
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector path gives the scalar path's codes and scale exactly, ties and edge cases
    /// included.
    #[test]
    fn vector_and_scalar_quantization_agree() {
        if quantize_run_vector(&[0.0; 8], &mut [0; 8]).is_none() {
            return;
        }
        let mut seed = 0x9e37_79b9u32;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as f32 / u32::MAX as f32 * 2.0 - 1.0
        };
        let mut cases: Vec<Vec<f32>> = (0..200)
            .map(|_| (0..32).map(|_| rand() * 3.0).collect())
            .collect();
        // Exact ties: amax 127 makes the scale 1, so x.5 rounds to even.
        cases.push(
            (0..32)
                .map(|i| if i == 0 { 127.0 } else { i as f32 - 16.5 })
                .collect(),
        );
        cases.push(vec![0.0; 32]);
        let mut inf = vec![1.0; 32];
        inf[3] = f32::INFINITY;
        cases.push(inf);
        let mut nan = vec![1.0; 32];
        nan[7] = f32::NAN;
        cases.push(nan);
        for x in cases {
            let (mut a, mut b) = ([0i8; 32], [0i8; 32]);
            let da = quantize_run_scalar(&x, &mut a);
            let db = quantize_run_vector(&x, &mut b).expect("checked above");
            assert_eq!(a, b, "{x:?}");
            assert!(
                da.to_bits() == db.to_bits() || (da.is_nan() && db.is_nan()),
                "{da} vs {db}"
            );
        }
    }
}
