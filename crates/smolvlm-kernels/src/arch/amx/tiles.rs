//! The AMX tile instructions, in `asm!` (the intrinsics are not stable). The tile registers are
//! not part of Rust's register model: the compiler never touches them, so they keep their values
//! between the `asm!` blocks of one kernel call. Every function here requires that AMX is usable
//! (`crate::cpu::amx_usable`: the CPU has it and the OS granted the tile state), and all but
//! [`configure`] that the tiles were configured by it on this thread.

use super::Tile;
use crate::common::gemm::PANEL;

/// Every tile register 16 rows × 64 bytes (palette 1).
///
/// # Safety
/// AMX is usable.
pub(super) unsafe fn configure() {
    #[repr(C, align(64))]
    struct Config([u8; 64]);
    let mut cfg = Config([0; 64]);
    cfg.0[0] = 1;
    for t in 0..8 {
        cfg.0[16 + 2 * t] = 64;
        cfg.0[48 + t] = 16;
    }
    // SAFETY: AMX is usable (the caller's contract) and `ldtilecfg` reads the 64 bytes of the
    // aligned config, a valid palette-1 configuration.
    unsafe { std::arch::asm!("ldtilecfg [{0}]", in(reg) cfg.0.as_ptr(), options(nostack)) };
}

/// # Safety
/// AMX is usable.
pub(super) unsafe fn release() {
    // SAFETY: AMX is usable (the caller's contract); `tilerelease` touches no memory.
    unsafe { std::arch::asm!("tilerelease", options(nostack, nomem)) };
}

/// tmm0–3 += the 32 × 32 block of C from `kbs` k blocks of A's two row groups (`a0`, `a1`: their
/// tiles, hi and lo alternating) and B's panel (`b`: 4 tiles per k block).
///
/// # Safety
/// AMX is usable and configured; `a0` and `a1` hold `2 · kbs` tiles each, `b` `4 · kbs`.
pub(super) unsafe fn kernel(kbs: usize, a0: *const Tile, a1: *const Tile, b: *const Tile) {
    for kb in 0..kbs {
        // SAFETY: the loads read tiles 2kb, 2kb + 1 of `a0` and `a1` and 4kb..4kb + 4 of `b`
        // (a tile is 1024 bytes, rows 64 apart), inside the caller's buffers; AMX is configured.
        unsafe {
            std::arch::asm!(
                "tileloadd tmm4, [{a0} + {s}*1]",
                "tileloadd tmm5, [{a1} + {s}*1]",
                "tileloadd tmm6, [{b} + {s}*1]",
                "tileloadd tmm7, [{b} + {s}*1 + 1024]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                "tileloadd tmm6, [{b} + {s}*1 + 2048]",
                "tileloadd tmm7, [{b} + {s}*1 + 3072]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                "tileloadd tmm4, [{a0} + {s}*1 + 1024]",
                "tileloadd tmm5, [{a1} + {s}*1 + 1024]",
                "tileloadd tmm6, [{b} + {s}*1]",
                "tileloadd tmm7, [{b} + {s}*1 + 1024]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                a0 = in(reg) a0.add(kb * 2),
                a1 = in(reg) a1.add(kb * 2),
                b = in(reg) b.add(kb * 4),
                s = in(reg) 64usize,
                options(nostack, readonly)
            );
        }
    }
}

/// Asks for `tiles` tiles from `t` into L2, one request per cache line.
pub(super) fn prefetch(t: *const Tile, tiles: usize) {
    use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
    /// Cache lines per tile (1024 bytes).
    const LINES: usize = std::mem::size_of::<Tile>() / 64;
    for line in 0..tiles * LINES {
        // SAFETY: a prefetch never faults, whatever the address, and SSE is baseline on x86-64;
        // the address is formed with wrapping arithmetic, never dereferenced.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(t.cast::<i8>().wrapping_add(line * 64)) };
    }
}

/// tmm0–3 = 0.
///
/// # Safety
/// AMX is usable and configured.
pub(super) unsafe fn zero() {
    // SAFETY: AMX is configured (the caller's contract); `tilezero` touches no memory.
    unsafe {
        std::arch::asm!(
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            options(nostack, nomem)
        );
    }
}

/// tmm0–3 from a 32 × 32 block of f32 (row-major, contiguous).
///
/// # Safety
/// AMX is usable and configured; `c` holds 1024 readable floats.
pub(super) unsafe fn load(c: *const f32) {
    // SAFETY: the four 16 × 16 quarters of the 32 × 32 block at `c` (rows PANEL floats apart),
    // readable (the caller's contract); AMX is configured.
    unsafe {
        std::arch::asm!(
            "tileloadd tmm0, [{c} + {s}*1]",
            "tileloadd tmm1, [{c} + {s}*1 + 64]",
            "tileloadd tmm2, [{c} + {s}*1 + 2048]",
            "tileloadd tmm3, [{c} + {s}*1 + 2112]",
            c = in(reg) c,
            s = in(reg) PANEL * 4,
            options(nostack, readonly)
        );
    }
}

/// tmm0–3 into a 32 × 32 block of f32 (row-major, contiguous).
///
/// # Safety
/// AMX is usable and configured; `c` holds 1024 writable floats nobody else accesses.
pub(super) unsafe fn store(c: *mut f32) {
    // SAFETY: as in `load`, with the block writable and the caller's.
    unsafe {
        std::arch::asm!(
            "tilestored [{c} + {s}*1], tmm0",
            "tilestored [{c} + {s}*1 + 64], tmm1",
            "tilestored [{c} + {s}*1 + 2048], tmm2",
            "tilestored [{c} + {s}*1 + 2112], tmm3",
            c = in(reg) c,
            s = in(reg) PANEL * 4,
            options(nostack)
        );
    }
}
