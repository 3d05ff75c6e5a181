//! Dot products of a weight row with a quantized activation row, one per weight type, with the
//! SIMD level chosen once at run time: a portable build runs everywhere and still uses AVX2 where
//! the CPU has it. Here the dispatch and the portable kernels (`scalar`); the vector ones are in
//! `crate::arch` (`avx2::dot`, `neon::dot`).

use crate::common::q8::{Q8Block, Q8KBlock};
use crate::formats::WeightType;

pub mod scalar;

/// Where it always was; detected in `crate::cpu`.
pub use crate::cpu::SimdLevel;

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

/// A safe function pointer to a `#[target_feature]` kernel of `crate::arch::neon::dot`.
#[cfg(target_arch = "aarch64")]
macro_rules! safe_neon {
    ($name:ident, $act:ty) => {{
        fn f(w: &[u8], a: &[$act]) -> f32 {
            // SAFETY: `dot_for` hands this out only for a level (capped to the hardware's) of
            // NEON, which `crate::cpu` reports only with the dot-product extension.
            unsafe { crate::arch::neon::dot::$name(w, a) }
        }
        f as fn(&[u8], &[$act]) -> f32
    }};
}

/// A safe function pointer to a `#[target_feature]` kernel of `crate::arch::avx2::dot`.
#[cfg(target_arch = "x86_64")]
macro_rules! safe_avx2 {
    ($name:ident, $act:ty) => {{
        fn f(w: &[u8], a: &[$act]) -> f32 {
            // SAFETY: `dot_for` hands this out only for a level (capped to the hardware's) of
            // AVX2 or above, which `crate::cpu` reports only with AVX2, FMA and F16C.
            unsafe { crate::arch::avx2::dot::$name(w, a) }
        }
        f as fn(&[u8], &[$act]) -> f32
    }};
}

/// The dot product for `ty` at `level` (at most this CPU's: a level it does not run gets its
/// best); `None` for unquantized types.
pub fn dot_for(ty: WeightType, level: SimdLevel) -> Option<Dot> {
    use WeightType::*;
    let level = level.capped();
    #[cfg(target_arch = "x86_64")]
    // The integer dot products have no AVX-512 form yet: AVX-512 machines run the AVX2 ones.
    if level >= SimdLevel::Avx2 {
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
    #[cfg(target_arch = "aarch64")]
    if level == SimdLevel::Neon {
        return Some(match ty {
            Q4_0 => Dot::Q8(safe_neon!(q4_0, Q8Block)),
            Q4_1 => Dot::Q8(safe_neon!(q4_1, Q8Block)),
            Q5_0 => Dot::Q8(safe_neon!(q5_0, Q8Block)),
            Q5_1 => Dot::Q8(safe_neon!(q5_1, Q8Block)),
            Q8_0 => Dot::Q8(safe_neon!(q8_0, Q8Block)),
            Q4K => Dot::Q8K(safe_neon!(q4_k, Q8KBlock)),
            Q5K => Dot::Q8K(safe_neon!(q5_k, Q8KBlock)),
            Q6K => Dot::Q8K(safe_neon!(q6_k, Q8KBlock)),
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
