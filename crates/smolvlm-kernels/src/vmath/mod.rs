//! Element-wise math over f32 rows with vector exp: softmax (attention) and tanh-GELU (SigLIP's
//! MLP). candle evaluates these with scalar `exp`/`tanh`, one element at a time on one thread; a
//! 512² tile's attention alone takes 150 M exponentials.
//!
//! The vector exp is Cephes' `expf` (range reduction by ln 2, degree-6 polynomial): relative error
//! within 2 ulp of the correctly rounded result over the range that does not overflow. Here the
//! dispatch; `scalar` has the portable code, `crate::arch` the vector kernels, and
//! `crate::common::math` the constants and scalar functions they share.

pub(crate) mod scalar;

use crate::cpu::SimdLevel;

/// `row[..len] = softmax(scale · row[..len])` and `row[len..] = 0` (the keys a causal query may
/// not see).
pub fn softmax_scaled(row: &mut [f32], len: usize, scale: f32) {
    softmax_scaled_at(SimdLevel::detect(), row, len, scale)
}

/// [`softmax_scaled`] with the kernels of `level`, one this CPU runs ([`SimdLevel::available`]).
pub fn softmax_scaled_at(level: SimdLevel, row: &mut [f32], len: usize, scale: f32) {
    let inv = softmax_unnormalized_at(level, row, len, scale);
    row[..len].iter_mut().for_each(|v| *v *= inv);
}

/// [`softmax_scaled`] without the final division: `row[..len] = exp(scale · (row − max))`,
/// `row[len..] = 0`, and the return value is 1 / Σ — for callers that scale the few outputs
/// made from the row rather than the row itself (attention's `P·V`).
pub fn softmax_unnormalized(row: &mut [f32], len: usize, scale: f32) -> f32 {
    softmax_unnormalized_at(SimdLevel::detect(), row, len, scale)
}

/// [`softmax_unnormalized`] with the kernels of `level`, one this CPU runs.
pub fn softmax_unnormalized_at(level: SimdLevel, row: &mut [f32], len: usize, scale: f32) -> f32 {
    let (live, dead) = row.split_at_mut(len);
    dead.fill(0.0);
    if live.is_empty() {
        return 0.0;
    }
    let max = scalar::max_of(live);
    // exp(scale·x − scale·max): the largest term is 1, nothing overflows.
    1.0 / exp_shifted(level, live, scale, -scale * max)
}

/// `x ← exp(a·x + b)` over `x`, returning the sum of the results.
fn exp_shifted(level: SimdLevel, x: &mut [f32], a: f32, b: f32) -> f32 {
    let level = level.capped();
    #[cfg(target_arch = "x86_64")]
    match level {
        SimdLevel::Avx512 | SimdLevel::Amx => {
            // SAFETY: `capped` leaves a level this CPU runs, which here has AVX-512F.
            return unsafe { crate::arch::avx512::vmath::exp_shifted(x, a, b) };
        }
        // SAFETY: `capped` leaves a level this CPU runs, which here has AVX2 and FMA.
        SimdLevel::Avx2 => return unsafe { crate::arch::avx2::vmath::exp_shifted(x, a, b) },
        SimdLevel::Scalar | SimdLevel::Neon => {}
    }
    #[cfg(target_arch = "aarch64")]
    if level == SimdLevel::Neon {
        // SAFETY: as above, with NEON.
        return unsafe { crate::arch::neon::vmath::exp_shifted(x, a, b) };
    }
    let _ = level;
    scalar::exp_shifted(x, a, b)
}

/// GELU with the tanh approximation (`gelu_pytorch_tanh`), in place.
pub fn gelu_tanh(x: &mut [f32]) {
    gelu_tanh_at(SimdLevel::detect(), x)
}

/// [`gelu_tanh`] with the kernels of `level`, one this CPU runs.
pub fn gelu_tanh_at(level: SimdLevel, x: &mut [f32]) {
    let level = level.capped();
    #[cfg(target_arch = "x86_64")]
    match level {
        SimdLevel::Avx512 | SimdLevel::Amx => {
            // SAFETY: `capped` leaves a level this CPU runs, which here has AVX-512F.
            return unsafe { crate::arch::avx512::vmath::gelu_tanh(x) };
        }
        // SAFETY: `capped` leaves a level this CPU runs, which here has AVX2 and FMA.
        SimdLevel::Avx2 => return unsafe { crate::arch::avx2::vmath::gelu_tanh(x) },
        SimdLevel::Scalar | SimdLevel::Neon => {}
    }
    #[cfg(target_arch = "aarch64")]
    if level == SimdLevel::Neon {
        // SAFETY: as above, with NEON.
        return unsafe { crate::arch::neon::vmath::gelu_tanh(x) };
    }
    let _ = level;
    scalar::gelu_tanh(x)
}

/// `gate ← silu(gate) · up`, SwiGLU (SmolLM2's MLP), in place.
pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
    silu_mul_at(SimdLevel::detect(), gate, up)
}

/// [`silu_mul`] with the kernels of `level`, one this CPU runs.
pub fn silu_mul_at(level: SimdLevel, gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "silu_mul of unequal rows");
    let level = level.capped();
    #[cfg(target_arch = "x86_64")]
    match level {
        SimdLevel::Avx512 | SimdLevel::Amx => {
            // SAFETY: `capped` leaves a level this CPU runs, which here has AVX-512F.
            return unsafe { crate::arch::avx512::vmath::silu_mul(gate, up) };
        }
        // SAFETY: `capped` leaves a level this CPU runs, which here has AVX2 and FMA.
        SimdLevel::Avx2 => return unsafe { crate::arch::avx2::vmath::silu_mul(gate, up) },
        SimdLevel::Scalar | SimdLevel::Neon => {}
    }
    #[cfg(target_arch = "aarch64")]
    if level == SimdLevel::Neon {
        // SAFETY: as above, with NEON.
        return unsafe { crate::arch::neon::vmath::silu_mul(gate, up) };
    }
    let _ = level;
    scalar::silu_mul(gate, up)
}
