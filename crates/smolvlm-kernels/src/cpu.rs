//! What this CPU can run, detected once: every dispatcher of the crate asks here (the SIMD level
//! the kernels pick, whether the interleaved AVX-512 VNNI layout and the AMX tiles are usable).
//! `SMOLVLM_SIMD=scalar|avx2|avx512` caps the level the dispatchers see.

use std::sync::OnceLock;

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

/// The CPU features the kernels care about, read once.
#[derive(Debug, Clone, Copy, Default)]
struct Features {
    /// AVX2, FMA and F16C: the AVX2 kernels.
    avx2: bool,
    /// AVX-512F: the GEMM's and element-wise math's 16-wide kernels.
    avx512f: bool,
    /// AVX-512BW: byte and word operations (the interleaved kernels, the bf16 split).
    avx512bw: bool,
    /// AVX-512 VNNI (`vpdpbusd`): the interleaved integer dot products.
    avx512vnni: bool,
    /// AMX-TILE and AMX-BF16 on an AVX-512F/BW CPU, with the tile state granted by the OS.
    amx: bool,
    /// NEON with the dot-product extension (`sdot`).
    neon_dotprod: bool,
}

fn features() -> &'static Features {
    static FEATURES: OnceLock<Features> = OnceLock::new();
    FEATURES.get_or_init(read_features)
}

#[cfg(target_arch = "x86_64")]
fn read_features() -> Features {
    let avx2 = is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c");
    let avx512f = is_x86_feature_detected!("avx512f");
    let avx512bw = is_x86_feature_detected!("avx512bw");
    Features {
        avx2,
        avx512f,
        avx512bw,
        avx512vnni: is_x86_feature_detected!("avx512vnni"),
        // The tile state is requested only where the tile kernels could run (they pack with
        // AVX-512F/BW), as the level detection always did.
        amx: avx2 && avx512f && avx512bw && request_amx(),
        neon_dotprod: false,
    }
}

#[cfg(target_arch = "aarch64")]
fn read_features() -> Features {
    Features {
        neon_dotprod: std::arch::is_aarch64_feature_detected!("neon")
            && std::arch::is_aarch64_feature_detected!("dotprod"),
        ..Features::default()
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn read_features() -> Features {
    Features::default()
}

/// Whether AMX-BF16 tiles can be used here: the CPU has them and Linux granted this process the
/// tile state (`ARCH_REQ_XCOMP_PERM`; without it the first tile instruction faults).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn request_amx() -> bool {
    use std::arch::x86_64::__cpuid_count;
    /// CPUID.(7,0):EDX bit 22: AMX-BF16.
    const AMX_BF16: u32 = 1 << 22;
    /// CPUID.(7,0):EDX bit 24: AMX-TILE.
    const AMX_TILE: u32 = 1 << 24;
    let edx = __cpuid_count(7, 0).edx;
    if edx & AMX_BF16 == 0 || edx & AMX_TILE == 0 {
        return false;
    }
    const SYS_ARCH_PRCTL: i64 = 158;
    const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
    const XFEATURE_XTILEDATA: i64 = 18;
    let ret: i64;
    // SAFETY: arch_prctl(ARCH_REQ_XCOMP_PERM) only reads its two integer arguments and changes
    // no memory of this process; the asm declares the registers the syscall clobbers (rax's
    // result, rcx and r11) and uses no stack.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") SYS_ARCH_PRCTL => ret,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret == 0
}

#[cfg(all(target_arch = "x86_64", not(target_os = "linux")))]
fn request_amx() -> bool {
    false
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
        static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
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

    /// `self` where this CPU runs it, else the hardware's best: what a dispatcher handed a level
    /// by its caller (the `*_at` functions tests use) runs, so that no level makes it execute
    /// instructions the CPU lacks. The identity for [`SimdLevel::detect`] and every level of
    /// [`SimdLevel::available`].
    pub(crate) fn capped(self) -> Self {
        self.min(Self::hardware())
    }

    /// The best level of the hardware, whatever `SMOLVLM_SIMD` says.
    pub(crate) fn hardware() -> Self {
        let f = features();
        if f.avx2 {
            if f.avx512f {
                if f.amx {
                    return SimdLevel::Amx;
                }
                return SimdLevel::Avx512;
            }
            return SimdLevel::Avx2;
        }
        if f.neon_dotprod {
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

/// Whether this CPU runs the interleaved kernels (AVX-512 F, BW and VNNI: Ice Lake, Sapphire
/// Rapids, Zen 4 and later). The hardware's answer: callers also check the [`SimdLevel`].
pub(crate) fn has_avx512_vnni() -> bool {
    let f = features();
    f.avx512f && f.avx512bw && f.avx512vnni
}

/// Whether AVX-512 F and BW are there (the bf16 split's vector form, for its test: the AMX
/// packing relies on [`amx_usable`], which implies them).
#[cfg(test)]
pub(crate) fn has_avx512bw() -> bool {
    let f = features();
    f.avx512f && f.avx512bw
}

/// Whether AMX-BF16 tiles can be used (see [`Features::amx`]). The hardware's answer: callers
/// also check the [`SimdLevel`].
pub(crate) fn amx_usable() -> bool {
    features().amx
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

    /// The features the dispatchers ask for imply each other as the kernels assume.
    #[test]
    fn features_are_consistent() {
        if amx_usable() {
            assert!(has_avx512bw());
        }
        if has_avx512_vnni() {
            assert!(has_avx512bw());
        }
    }
}
