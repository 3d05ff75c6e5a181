//! The element-wise math of `crate::vmath` (see there for the exp), 16 lanes at a time.

use crate::common::math::{
    EXP_HI, EXP_LO, GELU_C, LN2_HI, LN2_LO, LOG2E, P0, P1, P2, P3, P4, P5, SQRT_2_OVER_PI,
    silu_scalar,
};
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

/// Panics unless the rows are equally long.
#[target_feature(enable = "avx512f")]
pub(crate) fn silu_mul(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "silu_mul of unequal rows");
    let one = _mm512_set1_ps(1.0);
    let mut i = 0;
    while i + 16 <= gate.len() {
        // SAFETY: i + 16 ≤ gate.len() = up.len() (asserted): 16 floats at i of each.
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

#[target_feature(enable = "avx512f")]
pub(crate) fn exp_shifted(x: &mut [f32], a: f32, b: f32) -> f32 {
    let (va, vb) = (_mm512_set1_ps(a), _mm512_set1_ps(b));
    let mut sum = _mm512_setzero_ps();
    let mut chunks = x.chunks_exact_mut(16);
    for c in &mut chunks {
        // SAFETY: `c` is a chunk of 16 floats, one vector.
        unsafe {
            let v = exp(_mm512_fmadd_ps(_mm512_loadu_ps(c.as_ptr()), va, vb));
            sum = _mm512_add_ps(sum, v);
            _mm512_storeu_ps(c.as_mut_ptr(), v);
        }
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let mask: __mmask16 = (1u16 << rest.len()) - 1;
        // SAFETY: the mask covers the `rest.len()` < 16 floats of `rest`; masked-off lanes
        // are not accessed.
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

#[target_feature(enable = "avx512f")]
pub(crate) fn gelu_tanh(x: &mut [f32]) {
    let mut chunks = x.chunks_exact_mut(16);
    for c in &mut chunks {
        // SAFETY: `c` is a chunk of 16 floats, one vector.
        unsafe { _mm512_storeu_ps(c.as_mut_ptr(), gelu(_mm512_loadu_ps(c.as_ptr()))) };
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let mask: __mmask16 = (1u16 << rest.len()) - 1;
        // SAFETY: the mask covers the `rest.len()` < 16 floats of `rest`; masked-off lanes
        // are not accessed.
        unsafe {
            let v = gelu(_mm512_maskz_loadu_ps(mask, rest.as_ptr()));
            _mm512_mask_storeu_ps(rest.as_mut_ptr(), mask, v);
        }
    }
}
