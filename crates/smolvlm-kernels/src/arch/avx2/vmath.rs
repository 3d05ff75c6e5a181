//! The element-wise math of `crate::vmath` (see there for the exp), 8 lanes at a time.

use crate::common::math::{
    EXP_HI, EXP_LO, GELU_C, LN2_HI, LN2_LO, LOG2E, P0, P1, P2, P3, P4, P5, SQRT_2_OVER_PI,
    gelu_tanh_scalar, silu_scalar,
};
use std::arch::x86_64::*;

#[inline]
#[target_feature(enable = "avx2,fma")]
fn exp(x: __m256) -> __m256 {
    let x = _mm256_min_ps(
        _mm256_max_ps(x, _mm256_set1_ps(EXP_LO)),
        _mm256_set1_ps(EXP_HI),
    );
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        x,
        _mm256_set1_ps(LOG2E),
    ));
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

/// Panics unless the rows are equally long.
#[target_feature(enable = "avx2,fma")]
pub(crate) fn silu_mul(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "silu_mul of unequal rows");
    let one = _mm256_set1_ps(1.0);
    let mut i = 0;
    while i + 8 <= gate.len() {
        // SAFETY: i + 8 ≤ gate.len() = up.len() (asserted): 8 floats at i of each.
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

#[target_feature(enable = "avx2,fma")]
pub(crate) fn exp_shifted(x: &mut [f32], a: f32, b: f32) -> f32 {
    let (va, vb) = (_mm256_set1_ps(a), _mm256_set1_ps(b));
    let mut sum = _mm256_setzero_ps();
    let mut chunks = x.chunks_exact_mut(8);
    for c in &mut chunks {
        // SAFETY: `c` is a chunk of 8 floats, one vector.
        unsafe {
            let v = exp(_mm256_fmadd_ps(_mm256_loadu_ps(c.as_ptr()), va, vb));
            sum = _mm256_add_ps(sum, v);
            _mm256_storeu_ps(c.as_mut_ptr(), v);
        }
    }
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` is 8 floats, one vector.
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

#[target_feature(enable = "avx2,fma")]
pub(crate) fn gelu_tanh(x: &mut [f32]) {
    let mut chunks = x.chunks_exact_mut(8);
    for c in &mut chunks {
        // SAFETY: `c` is a chunk of 8 floats, one vector.
        unsafe { _mm256_storeu_ps(c.as_mut_ptr(), gelu(_mm256_loadu_ps(c.as_ptr()))) };
    }
    for v in chunks.into_remainder() {
        *v = gelu_tanh_scalar(*v);
    }
}
