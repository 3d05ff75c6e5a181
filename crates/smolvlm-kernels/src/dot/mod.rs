//! Dot products of a weight row with a quantized activation row, one per weight type, with the
//! SIMD level chosen once at run time: a portable build runs everywhere and still uses AVX2 where
//! the CPU has it.

use crate::act::{Q8Block, Q8KBlock};
use crate::formats::WeightType;

/// Runs `step(block, activations, acc, offset)` over the blocks with two independent pairs of
/// accumulators (each starting at `$zero`), so consecutive blocks do not wait on each other's
/// additions; the vector kernels' modules define `sum_chains` for their vector type.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
macro_rules! two_chains {
    ($w:expr, $a:expr, $bytes:expr, $zero:expr, $step:expr) => {{
        let mut blocks = $w.chunks_exact($bytes).zip($a);
        let (mut acc0, mut acc1) = ($zero, $zero);
        let (mut off0, mut off1) = (0f32, 0f32);
        loop {
            let Some((b, a)) = blocks.next() else { break };
            $step(b, a, &mut acc0, &mut off0);
            let Some((b, a)) = blocks.next() else { break };
            $step(b, a, &mut acc1, &mut off1);
        }
        sum_chains(acc0, acc1) + (off0 + off1)
    }};
}

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;
pub mod scalar;

/// The instruction sets the kernels use. The order is "more capable than" within one
/// architecture: a CPU runs every level up to its own on its own architecture's list
/// ([`SimdLevel::available`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    Scalar,
    /// AArch64 NEON with the dot-product extension (ARMv8.2+: every Apple M chip, Graviton 2
    /// and later): 4-wide f32 vectors, 32 registers, `sdot` for the integer products.
    Neon,
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
            SimdLevel::Neon => "neon",
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
        #[cfg(target_arch = "aarch64")]
        if std::arch::is_aarch64_feature_detected!("neon")
            && std::arch::is_aarch64_feature_detected!("dotprod")
        {
            return SimdLevel::Neon;
        }
        SimdLevel::Scalar
    }

    /// Every level this CPU can run, for tests.
    pub fn available() -> Vec<Self> {
        let arch: &[SimdLevel] = if cfg!(target_arch = "x86_64") {
            &[SimdLevel::Avx2, SimdLevel::Avx512, SimdLevel::Amx]
        } else if cfg!(target_arch = "aarch64") {
            &[SimdLevel::Neon]
        } else {
            &[]
        };
        std::iter::once(SimdLevel::Scalar)
            .chain(arch.iter().copied())
            .filter(|&l| l <= Self::hardware())
            .collect()
    }
}

/// A Q4_K/Q5_K super-block's eight 6-bit sub-block scales, and Σ over sub-blocks of min ×
/// activation sum (the vector kernels apply the scales to integer products and subtract this).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
fn k_mins(scales: &[u8], a: &Q8KBlock) -> ([i16; 8], i32) {
    let mut sc = [0i16; 8];
    let mut summ = 0i32;
    for (j, s) in sc.iter_mut().enumerate() {
        let (scale, min) = crate::formats::k_scale_min(scales, j);
        *s = scale as i16;
        summ += min as i32 * (a.bsums[2 * j] as i32 + a.bsums[2 * j + 1] as i32);
    }
    (sc, summ)
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

#[cfg(target_arch = "aarch64")]
macro_rules! safe_neon {
    ($name:ident, $act:ty) => {{
        // Safety: only selected when `SimdLevel::detect` found NEON and the dot-product
        // extension.
        fn f(w: &[u8], a: &[$act]) -> f32 {
            unsafe { neon::$name(w, a) }
        }
        f as fn(&[u8], &[$act]) -> f32
    }};
}

#[cfg(target_arch = "x86_64")]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests that loop over [`SimdLevel::available`] reach this CPU's best level, and only
    /// levels of its own architecture (under emulation too: QEMU's AArch64 CPU has the
    /// dot-product extension, so the NEON kernels are what the AArch64 run checks).
    #[test]
    fn available_levels_end_at_the_detected_one() {
        let levels = SimdLevel::available();
        assert_eq!(levels.first(), Some(&SimdLevel::Scalar));
        assert_eq!(levels.last(), Some(&SimdLevel::hardware()));
        #[cfg(target_arch = "aarch64")]
        if std::arch::is_aarch64_feature_detected!("dotprod") {
            assert_eq!(levels, [SimdLevel::Scalar, SimdLevel::Neon]);
        }
        #[cfg(target_arch = "x86_64")]
        assert!(!levels.contains(&SimdLevel::Neon));
    }
}
