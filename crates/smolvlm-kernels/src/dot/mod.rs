//! Dot products of a weight row with a quantized activation row, one per weight type, with the
//! SIMD level chosen once at run time: a portable build runs everywhere and still uses AVX2 where
//! the CPU has it.

use crate::act::{Q8Block, Q8KBlock};
use crate::formats::WeightType;

#[cfg(target_arch = "x86_64")]
mod avx2;
pub mod scalar;

/// The instruction sets the kernels use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    Scalar,
    /// AVX2 + FMA + F16C.
    Avx2,
    /// The above and AVX-512F: 16-wide f32 vectors, 32 registers (the GEMM's widest kernel).
    Avx512,
    /// The above and AMX-BF16 tiles, granted by the OS: products of reduced precision
    /// ([`crate::gemm::Precision::SplitBf16`]) run on them.
    Amx,
}

impl SimdLevel {
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
            SimdLevel::Amx => "amx",
        }
    }

    /// The best this CPU supports; `SMOLVLM_SIMD=scalar|avx2|avx512` caps it (the portable
    /// kernels, an AVX2 machine's path, or no AMX). Read once: kernels ask per call.
    pub fn detect() -> Self {
        static LEVEL: std::sync::OnceLock<SimdLevel> = std::sync::OnceLock::new();
        *LEVEL.get_or_init(|| {
            let best = Self::hardware();
            match std::env::var("SMOLVLM_SIMD").map(|v| v.to_ascii_lowercase()) {
                Ok(v) if v == "scalar" => SimdLevel::Scalar,
                Ok(v) if v == "avx2" => best.min(SimdLevel::Avx2),
                Ok(v) if v == "avx512" => best.min(SimdLevel::Avx512),
                _ => best,
            }
        })
    }

    fn hardware() -> Self {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
        {
            if is_x86_feature_detected!("avx512f") {
                if is_x86_feature_detected!("avx512bw") && crate::gemm::amx::usable() {
                    return SimdLevel::Amx;
                }
                return SimdLevel::Avx512;
            }
            return SimdLevel::Avx2;
        }
        SimdLevel::Scalar
    }

    /// Every level this CPU can run, for tests.
    pub fn available() -> Vec<Self> {
        [
            SimdLevel::Scalar,
            SimdLevel::Avx2,
            SimdLevel::Avx512,
            SimdLevel::Amx,
        ]
        .into_iter()
        .filter(|&l| l <= Self::hardware())
        .collect()
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
