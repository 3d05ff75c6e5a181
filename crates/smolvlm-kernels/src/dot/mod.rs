//! Dot products of a weight row with a quantized activation row, one per weight type, with the
//! SIMD level chosen once at run time: a portable build runs everywhere and still uses AVX2 where
//! the CPU has it.

use crate::act::{Q8Block, Q8KBlock};
use crate::formats::WeightType;

#[cfg(target_arch = "x86_64")]
mod avx2;
pub mod scalar;

/// The instruction sets the kernels use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimdLevel {
    Scalar,
    /// AVX2 + FMA + F16C.
    Avx2,
}

impl SimdLevel {
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Avx2 => "avx2",
        }
    }

    /// What this CPU supports (`SMOLVLM_SIMD=scalar` forces the portable kernels).
    pub fn detect() -> Self {
        if std::env::var("SMOLVLM_SIMD").is_ok_and(|v| v.eq_ignore_ascii_case("scalar")) {
            return SimdLevel::Scalar;
        }
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
        {
            return SimdLevel::Avx2;
        }
        SimdLevel::Scalar
    }

    /// Every level this CPU can run, for tests.
    pub fn available() -> Vec<Self> {
        let mut v = vec![SimdLevel::Scalar];
        if Self::detect() != SimdLevel::Scalar {
            v.push(Self::detect());
        }
        v
    }
}

/// The activation layout a weight type multiplies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActKind {
    Q8,
    Q8K,
}

pub fn act_kind(ty: WeightType) -> Option<ActKind> {
    use WeightType::*;
    match ty {
        Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 => Some(ActKind::Q8),
        Q4K | Q5K | Q6K => Some(ActKind::Q8K),
        F32 | F16 | BF16 => None,
    }
}

pub type DotQ8 = fn(&[u8], &[Q8Block]) -> f32;
pub type DotQ8K = fn(&[u8], &[Q8KBlock]) -> f32;

#[derive(Clone, Copy)]
pub enum Dot {
    Q8(DotQ8),
    Q8K(DotQ8K),
}

macro_rules! safe_avx2 {
    ($name:ident, $act:ty) => {{
        // Safety: only selected when `SimdLevel::detect` found AVX2, FMA and F16C.
        fn f(w: &[u8], a: &[$act]) -> f32 {
            unsafe { avx2::$name(w, a) }
        }
        f as fn(&[u8], &[$act]) -> f32
    }};
}

/// The dot product for `ty` at `level`; `None` for unquantized types.
pub fn dot_for(ty: WeightType, level: SimdLevel) -> Option<Dot> {
    use WeightType::*;
    #[cfg(target_arch = "x86_64")]
    if level == SimdLevel::Avx2 {
        return Some(match ty {
            Q4_0 => Dot::Q8(safe_avx2!(q4_0, Q8Block)),
            Q4_1 => Dot::Q8(safe_avx2!(q4_1, Q8Block)),
            Q5_0 => Dot::Q8(safe_avx2!(q5_0, Q8Block)),
            Q5_1 => Dot::Q8(safe_avx2!(q5_1, Q8Block)),
            Q8_0 => Dot::Q8(safe_avx2!(q8_0, Q8Block)),
            Q4K => Dot::Q8K(safe_avx2!(q4_k, Q8KBlock)),
            Q5K => Dot::Q8K(safe_avx2!(q5_k, Q8KBlock)),
            Q6K => Dot::Q8K(safe_avx2!(q6_k, Q8KBlock)),
            F32 | F16 | BF16 => return None,
        });
    }
    let _ = level;
    Some(match ty {
        Q4_0 => Dot::Q8(scalar::q4_0),
        Q4_1 => Dot::Q8(scalar::q4_1),
        Q5_0 => Dot::Q8(scalar::q5_0),
        Q5_1 => Dot::Q8(scalar::q5_1),
        Q8_0 => Dot::Q8(scalar::q8_0),
        Q4K => Dot::Q8K(scalar::q4_k),
        Q5K => Dot::Q8K(scalar::q5_k),
        Q6K => Dot::Q8K(scalar::q6_k),
        F32 | F16 | BF16 => return None,
    })
}
