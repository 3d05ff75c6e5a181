//! AVX2 + FMA + F16C kernels (x86-64 CPUs since 2013): 8-wide f32 vectors, 16 registers. The
//! dispatchers call them only where [`crate::cpu`] found all three features
//! ([`crate::SimdLevel::Avx2`] and above).

use std::arch::x86_64::*;

pub(crate) mod act;
pub(crate) mod attention;
pub(crate) mod dot;
pub(crate) mod gemm;
pub(crate) mod vmath;

/// The sum of a vector's eight lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}
