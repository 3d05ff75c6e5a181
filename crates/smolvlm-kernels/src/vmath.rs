//! Element-wise math over f32 rows with vector exp: softmax (attention) and tanh-GELU (SigLIP's
//! MLP). candle evaluates these with scalar `exp`/`tanh`, one element at a time on one thread; a
//! 512² tile's attention alone takes 150 M exponentials.
//!
//! The vector exp is Cephes' `expf` (range reduction by ln 2, degree-6 polynomial): relative error
//! within 2 ulp of the correctly rounded result over the range that does not overflow.

use crate::dot::SimdLevel;

/// `row[..len] = softmax(scale · row[..len])` and `row[len..] = 0` (the keys a causal query may
/// not see).
pub fn softmax_scaled(row: &mut [f32], len: usize, scale: f32) {
    softmax_scaled_at(SimdLevel::detect(), row, len, scale)
}

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

pub fn softmax_unnormalized_at(level: SimdLevel, row: &mut [f32], len: usize, scale: f32) -> f32 {
    let (live, dead) = row.split_at_mut(len);
    dead.fill(0.0);
    if live.is_empty() {
        return 0.0;
    }
    let max = max_of(live);
    // exp(scale·x − scale·max): the largest term is 1, nothing overflows.
    1.0 / exp_shifted(level, live, scale, -scale * max)
}

/// The largest element, NaN ignored (as `f32::max`). Sixteen lanes of compare-and-select, which
/// the compiler turns into vector max instructions (a fold of `f32::max` stays scalar).
fn max_of(x: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let mut chunks = x.chunks_exact(16);
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
fn exp_shifted(level: SimdLevel, x: &mut [f32], a: f32, b: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    match level {
        // Safety: the level was detected on this CPU.
        SimdLevel::Avx512 | SimdLevel::Amx => return unsafe { avx512::exp_shifted(x, a, b) },
        SimdLevel::Avx2 => return unsafe { avx2::exp_shifted(x, a, b) },
        SimdLevel::Scalar | SimdLevel::Neon => {}
    }
    #[cfg(target_arch = "aarch64")]
    if level == SimdLevel::Neon {
        // Safety: the level was detected on this CPU.
        return unsafe { neon::exp_shifted(x, a, b) };
    }
    let _ = level;
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (a * *v + b).exp();
        sum += *v;
    }
    sum
}

/// GELU with the tanh approximation (`gelu_pytorch_tanh`), in place.
pub fn gelu_tanh(x: &mut [f32]) {
    gelu_tanh_at(SimdLevel::detect(), x)
}

pub fn gelu_tanh_at(level: SimdLevel, x: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    match level {
        // Safety: the level was detected on this CPU.
        SimdLevel::Avx512 | SimdLevel::Amx => return unsafe { avx512::gelu_tanh(x) },
        SimdLevel::Avx2 => return unsafe { avx2::gelu_tanh(x) },
        SimdLevel::Scalar | SimdLevel::Neon => {}
    }
    #[cfg(target_arch = "aarch64")]
    if level == SimdLevel::Neon {
        // Safety: the level was detected on this CPU.
        return unsafe { neon::gelu_tanh(x) };
    }
    let _ = level;
    for v in x.iter_mut() {
        *v = gelu_tanh_scalar(*v);
    }
}

/// `gate ← silu(gate) · up`, SwiGLU (SmolLM2's MLP), in place.
pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
    silu_mul_at(SimdLevel::detect(), gate, up)
}

pub fn silu_mul_at(level: SimdLevel, gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "silu_mul of unequal rows");
    #[cfg(target_arch = "x86_64")]
    match level {
        // Safety: the level was detected on this CPU.
        SimdLevel::Avx512 | SimdLevel::Amx => return unsafe { avx512::silu_mul(gate, up) },
        SimdLevel::Avx2 => return unsafe { avx2::silu_mul(gate, up) },
        SimdLevel::Scalar | SimdLevel::Neon => {}
    }
    #[cfg(target_arch = "aarch64")]
    if level == SimdLevel::Neon {
        // Safety: the level was detected on this CPU.
        return unsafe { neon::silu_mul(gate, up) };
    }
    let _ = level;
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = silu_scalar(*g) * u;
    }
}

fn silu_scalar(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_C: f32 = 0.044_715;

fn gelu_tanh_scalar(x: f32) -> f32 {
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + GELU_C * x * x * x)).tanh())
}

// Cephes expf constants.
const EXP_HI: f32 = 88.376_26;
const EXP_LO: f32 = -88.376_26;
const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const P0: f32 = 1.987_569_1e-4;
const P1: f32 = 1.398_199_9e-3;
const P2: f32 = 8.333_452e-3;
const P3: f32 = 4.166_579_6e-2;
const P4: f32 = 1.666_666_5e-1;
const P5: f32 = 0.5;

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::*;
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn exp(x: __m512) -> __m512 {
        let x = _mm512_min_ps(
            _mm512_max_ps(x, _mm512_set1_ps(EXP_LO)),
            _mm512_set1_ps(EXP_HI),
        );
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm512_mul_ps(x, _mm512_set1_ps(LOG2E)),
        );
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
        let mut p = _mm512_set1_ps(P0);
        for c in [P1, P2, P3, P4, P5] {
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
        }
        let r2 = _mm512_mul_ps(r, r);
        let p = _mm512_fmadd_ps(p, r2, _mm512_add_ps(r, _mm512_set1_ps(1.0)));
        _mm512_scalef_ps(p, n)
    }

    /// Safety: the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn silu_mul(gate: &mut [f32], up: &[f32]) {
        let one = _mm512_set1_ps(1.0);
        let mut i = 0;
        while i + 16 <= gate.len() {
            unsafe {
                let g = _mm512_loadu_ps(gate.as_ptr().add(i));
                let e = exp(_mm512_sub_ps(_mm512_setzero_ps(), g));
                let s = _mm512_div_ps(g, _mm512_add_ps(one, e));
                let r = _mm512_mul_ps(s, _mm512_loadu_ps(up.as_ptr().add(i)));
                _mm512_storeu_ps(gate.as_mut_ptr().add(i), r);
            }
            i += 16;
        }
        for (g, &u) in gate[i..].iter_mut().zip(&up[i..]) {
            *g = silu_scalar(*g) * u;
        }
    }

    /// Safety: the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn exp_shifted(x: &mut [f32], a: f32, b: f32) -> f32 {
        let (va, vb) = (_mm512_set1_ps(a), _mm512_set1_ps(b));
        let mut sum = _mm512_setzero_ps();
        let mut chunks = x.chunks_exact_mut(16);
        for c in &mut chunks {
            unsafe {
                let v = exp(_mm512_fmadd_ps(_mm512_loadu_ps(c.as_ptr()), va, vb));
                sum = _mm512_add_ps(sum, v);
                _mm512_storeu_ps(c.as_mut_ptr(), v);
            }
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let mask: __mmask16 = (1u16 << rest.len()) - 1;
            unsafe {
                let v = _mm512_maskz_loadu_ps(mask, rest.as_ptr());
                let v = _mm512_maskz_mov_ps(mask, exp(_mm512_fmadd_ps(v, va, vb)));
                sum = _mm512_add_ps(sum, v);
                _mm512_mask_storeu_ps(rest.as_mut_ptr(), mask, v);
            }
        }
        _mm512_reduce_add_ps(sum)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn gelu(x: __m512) -> __m512 {
        // tanh(u) = 1 − 2 / (exp(2u) + 1), so 0.5·x·(1 + tanh u) = x − x / (exp(2u) + 1).
        let x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
        let u = _mm512_mul_ps(
            _mm512_fmadd_ps(x3, _mm512_set1_ps(GELU_C), x),
            _mm512_set1_ps(2.0 * SQRT_2_OVER_PI),
        );
        let e = _mm512_add_ps(exp(u), _mm512_set1_ps(1.0));
        _mm512_sub_ps(x, _mm512_div_ps(x, e))
    }

    /// Safety: the CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gelu_tanh(x: &mut [f32]) {
        let mut chunks = x.chunks_exact_mut(16);
        for c in &mut chunks {
            unsafe { _mm512_storeu_ps(c.as_mut_ptr(), gelu(_mm512_loadu_ps(c.as_ptr()))) };
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let mask: __mmask16 = (1u16 << rest.len()) - 1;
            unsafe {
                let v = gelu(_mm512_maskz_loadu_ps(mask, rest.as_ptr()));
                _mm512_mask_storeu_ps(rest.as_mut_ptr(), mask, v);
            }
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod neon;

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn exp(x: __m256) -> __m256 {
        let x = _mm256_min_ps(
            _mm256_max_ps(x, _mm256_set1_ps(EXP_LO)),
            _mm256_set1_ps(EXP_HI),
        );
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(x, _mm256_set1_ps(LOG2E)),
        );
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
        let mut p = _mm256_set1_ps(P0);
        for c in [P1, P2, P3, P4, P5] {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
        }
        let r2 = _mm256_mul_ps(r, r);
        let p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0)));
        // 2ⁿ from the exponent bits; n ∈ [−127, 128] after the clamp, and 2¹²⁸ is split in two
        // halves so the bits never overflow.
        let ni = _mm256_cvtps_epi32(n);
        let half = _mm256_srai_epi32::<1>(ni);
        let bias = _mm256_set1_epi32(127);
        let s1 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(half, bias)));
        let s2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_sub_epi32(ni, half),
            bias,
        )));
        _mm256_mul_ps(_mm256_mul_ps(p, s1), s2)
    }

    /// Safety: the CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn silu_mul(gate: &mut [f32], up: &[f32]) {
        let one = _mm256_set1_ps(1.0);
        let mut i = 0;
        while i + 8 <= gate.len() {
            unsafe {
                let g = _mm256_loadu_ps(gate.as_ptr().add(i));
                let e = exp(_mm256_sub_ps(_mm256_setzero_ps(), g));
                let s = _mm256_div_ps(g, _mm256_add_ps(one, e));
                let r = _mm256_mul_ps(s, _mm256_loadu_ps(up.as_ptr().add(i)));
                _mm256_storeu_ps(gate.as_mut_ptr().add(i), r);
            }
            i += 8;
        }
        for (g, &u) in gate[i..].iter_mut().zip(&up[i..]) {
            *g = silu_scalar(*g) * u;
        }
    }

    /// Safety: the CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn exp_shifted(x: &mut [f32], a: f32, b: f32) -> f32 {
        let (va, vb) = (_mm256_set1_ps(a), _mm256_set1_ps(b));
        let mut sum = _mm256_setzero_ps();
        let mut chunks = x.chunks_exact_mut(8);
        for c in &mut chunks {
            unsafe {
                let v = exp(_mm256_fmadd_ps(_mm256_loadu_ps(c.as_ptr()), va, vb));
                sum = _mm256_add_ps(sum, v);
                _mm256_storeu_ps(c.as_mut_ptr(), v);
            }
        }
        let mut lanes = [0f32; 8];
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
        let mut total: f32 = lanes.iter().sum();
        for v in chunks.into_remainder() {
            *v = (a * *v + b).exp();
            total += *v;
        }
        total
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn gelu(x: __m256) -> __m256 {
        let x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
        let u = _mm256_mul_ps(
            _mm256_fmadd_ps(x3, _mm256_set1_ps(GELU_C), x),
            _mm256_set1_ps(2.0 * SQRT_2_OVER_PI),
        );
        let e = _mm256_add_ps(exp(u), _mm256_set1_ps(1.0));
        _mm256_sub_ps(x, _mm256_div_ps(x, e))
    }

    /// Safety: the CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn gelu_tanh(x: &mut [f32]) {
        let mut chunks = x.chunks_exact_mut(8);
        for c in &mut chunks {
            unsafe { _mm256_storeu_ps(c.as_mut_ptr(), gelu(_mm256_loadu_ps(c.as_ptr()))) };
        }
        for v in chunks.into_remainder() {
            *v = gelu_tanh_scalar(*v);
        }
    }
}
