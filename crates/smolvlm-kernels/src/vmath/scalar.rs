//! The portable element-wise math: the reference of the vector kernels in `crate::arch` (the
//! scalar functions and constants they all share are in `crate::common::math`).

use crate::common::math::{gelu_tanh_scalar, silu_scalar};

/// Lanes of the portable max: as wide as an AVX-512 vector, so the compiler's vectorized
/// compare-and-select fills whatever registers the target has.
const MAX_LANES: usize = 16;

/// The largest element, NaN ignored (as `f32::max`). Sixteen lanes of compare-and-select, which
/// the compiler turns into vector max instructions (a fold of `f32::max` stays scalar).
pub(crate) fn max_of(x: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; MAX_LANES];
    let mut chunks = x.chunks_exact(MAX_LANES);
    for c in &mut chunks {
        for (m, &v) in lanes.iter_mut().zip(c) {
            *m = if v > *m { v } else { *m };
        }
    }
    let tail = chunks.remainder().iter().copied();
    lanes
        .into_iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, f32::max)
}

/// `x ← exp(a·x + b)` over `x`, returning the sum of the results.
pub(crate) fn exp_shifted(x: &mut [f32], a: f32, b: f32) -> f32 {
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (a * *v + b).exp();
        sum += *v;
    }
    sum
}

pub(crate) fn gelu_tanh(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = gelu_tanh_scalar(*v);
    }
}

pub(crate) fn silu_mul(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = silu_scalar(*g) * u;
    }
}
