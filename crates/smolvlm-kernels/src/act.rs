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

fn quantize_run(x: &[f32], q: &mut [i8]) -> f32 {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if amax == 0.0 || !amax.is_finite() {
        q.fill(0);
        return if amax.is_finite() { 0.0 } else { f32::NAN };
    }
    let d = amax / 127.0;
    let id = 1.0 / d;
    for (q, &v) in q.iter_mut().zip(x) {
        *q = (v * id).round().clamp(-127.0, 127.0) as i8;
    }
    d
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
