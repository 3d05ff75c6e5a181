//! The portable element-wise math (the reference of the vector kernels in `crate::arch`, and
//! their tails), and the constants they all share.

pub(crate) fn silu_scalar(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

pub(crate) const SQRT_2_OVER_PI: f32 = 0.797_884_6;
pub(crate) const GELU_C: f32 = 0.044_715;

pub(crate) fn gelu_tanh_scalar(x: f32) -> f32 {
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + GELU_C * x * x * x)).tanh())
}

// Cephes expf constants: the input's clamp, the range reduction by ln 2 (split in two for
// precision) and the degree-6 polynomial's coefficients.
pub(crate) const EXP_HI: f32 = 88.376_26;
pub(crate) const EXP_LO: f32 = -88.376_26;
pub(crate) const LOG2E: f32 = std::f32::consts::LOG2_E;
pub(crate) const LN2_HI: f32 = 0.693_359_4;
pub(crate) const LN2_LO: f32 = -2.121_944_4e-4;
pub(crate) const P0: f32 = 1.987_569_1e-4;
pub(crate) const P1: f32 = 1.398_199_9e-3;
pub(crate) const P2: f32 = 8.333_452e-3;
pub(crate) const P3: f32 = 4.166_579_6e-2;
pub(crate) const P4: f32 = 1.666_666_5e-1;
pub(crate) const P5: f32 = 0.5;

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
