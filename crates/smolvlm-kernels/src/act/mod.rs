//! Activations quantized to 8 bits per row, so that a weight row times an activation row is an
//! integer dot product (what makes quantized matrix products fast on CPUs). Two layouts, matching
//! the weights' block lengths: 32-element blocks for the legacy formats and 256-element
//! super-blocks with 16-element sums for the k-quants. The portable quantization is in `scalar`,
//! the vector ones in `crate::arch`.

use crate::formats::QK_K;

pub use crate::common::q8::{Q8Block, Q8KBlock};

pub(crate) mod scalar;

/// `x ≈ d · q` with `d = max|x| / 127`, rounding to nearest (ties to even, as the vector
/// rounding does, so every SIMD level gives the same codes).
fn quantize_run(x: &[f32], q: &mut [i8]) -> f32 {
    quantize_run_vector(x, q).unwrap_or_else(|| scalar::quantize_run(x, q))
}

/// The vector path, where this CPU has one (and `x` is a multiple of 8 long).
fn quantize_run_vector(x: &[f32], q: &mut [i8]) -> Option<f32> {
    use crate::cpu::SimdLevel;
    if !x.len().is_multiple_of(8) {
        return None;
    }
    let level = SimdLevel::detect();
    #[cfg(target_arch = "x86_64")]
    if level >= SimdLevel::Avx2 {
        // SAFETY: `SimdLevel::detect` found AVX2 on this CPU.
        return Some(unsafe { crate::arch::avx2::act::quantize_run(x, q) });
    }
    #[cfg(target_arch = "aarch64")]
    if level == SimdLevel::Neon {
        // SAFETY: `SimdLevel::detect` found NEON on this CPU.
        return Some(unsafe { crate::arch::neon::act::quantize_run(x, q) });
    }
    let _ = level;
    None
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
            let da = scalar::quantize_run(&x, &mut a);
            let db = quantize_run_vector(&x, &mut b).expect("checked above");
            assert_eq!(a, b, "{x:?}");
            assert!(
                da.to_bits() == db.to_bits() || (da.is_nan() && db.is_nan()),
                "{da} vs {db}"
            );
        }
    }
}
