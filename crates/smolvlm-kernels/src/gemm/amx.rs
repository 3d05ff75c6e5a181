//! Products on AMX tiles (Intel Xeon since Sapphire Rapids) for [`Precision::SplitBf16`]: each
//! operand is split into two bf16 halves, `x = hi + lo` (16 significant bits of f32's 24; an f16
//! or bf16 value splits exactly), and `hi·hi + hi·lo + lo·hi` is summed in f32 by `tdpbf16ps`.
//! The dropped `lo·lo` term and the split's remainder leave a relative error of about 2⁻¹⁶ per
//! product: a hundred times f32's, ten times below f16 activations (llama.cpp's f16 weights) and
//! far below any weight's rounding to f16 or a quantized type. One `tdpbf16ps` does 16 × 16 × 32
//! multiply-adds; three of them for the split still run ~4× the AVX-512 FMA rate.
//!
//! Layouts (every tile 16 rows of 64 bytes, packed contiguously so each loads at a 64-byte stride):
//! - B, per panel of 32 columns and block of 32 k: four tiles, hi of columns 0–15, hi of 16–31,
//!   lo of 0–15, lo of 16–31; tile row r holds, for each column, the pair (k = 2r, 2r + 1).
//! - A, per 16 rows and block of 32 k: the hi tile then the lo tile, row-major.
//!
//! The tile registers are not part of Rust's register model: the compiler never touches them, so
//! they keep their values between the `asm!` blocks of one kernel call.
//!
//! [`Precision::SplitBf16`]: super::Precision::SplitBf16

use super::{BMatrix, PANEL, SendPtr};

/// k per tile product: 16 rows of bf16 pairs.
pub(super) const KB: usize = 32;
/// Rows of C per kernel call: two tiles of 16.
pub(super) const MR: usize = 32;
/// Rows of A per task: their tiles (4 KiB per 32 k) stay in L2 while the task's panels pass.
pub(super) const MC: usize = 128;

/// One tile's worth of data: 16 rows × 32 bf16.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(super) struct Tile([u16; 512]);

const ZERO: Tile = Tile([0; 512]);

/// Whether AMX-BF16 tiles can be used here: the CPU has them and Linux granted this process the
/// tile state (`ARCH_REQ_XCOMP_PERM`; without it the first tile instruction faults). Asked once.
pub(crate) fn usable() -> bool {
    static USABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *USABLE.get_or_init(request)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn request() -> bool {
    use std::arch::x86_64::__cpuid_count;
    // CPUID.(7,0):EDX bit 22 AMX-BF16, bit 24 AMX-TILE.
    let edx = __cpuid_count(7, 0).edx;
    if edx & (1 << 22) == 0 || edx & (1 << 24) == 0 {
        return false;
    }
    const SYS_ARCH_PRCTL: i64 = 158;
    const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
    const XFEATURE_XTILEDATA: i64 = 18;
    let ret: i64;
    // Safety: arch_prctl only reads its two integer arguments; the syscall clobbers rcx and r11.
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

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn request() -> bool {
    false
}

/// Rounds f32 bits to the nearest bf16 (ties to even), for finite values that do not round up
/// past the largest bf16.
fn round_bits(bits: u32) -> u32 {
    (bits + 0x7fff + ((bits >> 16) & 1)) & 0xffff_0000
}

/// `x` as bf16 bits `(hi, lo)` with `hi + lo ≈ x` to 16 significant bits. Infinities and NaN go
/// whole into `hi` (NaN kept quiet), so a product with them is not finite (NaN where a zero lo
/// meets an infinite hi); values within half a bf16 ulp of f32's largest are truncated rather
/// than rounded to infinity.
pub(super) fn split(x: f32) -> (u16, u16) {
    let bits = x.to_bits();
    let abs = bits & 0x7fff_ffff;
    if abs >= 0x7f80_0000 {
        let quiet = if abs > 0x7f80_0000 { 0x0040 } else { 0 };
        return ((bits >> 16) as u16 | quiet, 0);
    }
    let hi = if abs >= 0x7f7f_8000 {
        bits & 0xffff_0000
    } else {
        round_bits(bits)
    };
    let rest = x - f32::from_bits(hi);
    ((hi >> 16) as u16, (round_bits(rest.to_bits()) >> 16) as u16)
}

/// B packed as tiles: `panels × k_blocks × 4` tiles (see the module docs).
#[derive(Clone, Default)]
pub(super) struct TileB {
    tiles: Vec<Tile>,
    k_blocks: usize,
}

impl TileB {
    pub(super) fn bytes(&self) -> usize {
        self.tiles.len() * std::mem::size_of::<Tile>()
    }

    /// Packs `b` (n × k as the product sees it): each panel through the f32 packing, then split.
    pub(super) fn pack(n: usize, k: usize, b: &BMatrix<'_>, threaded: bool) -> Self {
        let panels = n.div_ceil(PANEL);
        let k_blocks = k.div_ceil(KB);
        let mut tiles = vec![ZERO; panels * k_blocks * 4];
        let out = SendPtr(tiles.as_mut_ptr());
        let pack = |panel: usize| {
            let mut f32s = vec![0f32; k * PANEL];
            super::pack_panel(&mut f32s, panel * PANEL, n, k, b);
            // Safety: each panel writes its own k_blocks × 4 tiles.
            let dst = unsafe {
                std::slice::from_raw_parts_mut(out.at(panel * k_blocks * 4), k_blocks * 4)
            };
            split_panel(dst, &f32s, k);
        };
        if threaded {
            crate::pool::parallel(panels, &pack);
        } else {
            (0..panels).for_each(pack);
        }
        TileB { tiles, k_blocks }
    }
}

/// A k × 32 f32 panel into its k_blocks × 4 tiles.
fn split_panel(dst: &mut [Tile], f32s: &[f32], k: usize) {
    for (kb, four) in dst.chunks_exact_mut(4).enumerate() {
        for r in 0..16 {
            let p = kb * KB + 2 * r;
            #[cfg(target_arch = "x86_64")]
            if p + 1 < k {
                // Safety: AMX CPUs have AVX-512F and BW (`usable` is checked before packing);
                // the panel holds rows p and p + 1.
                unsafe { x86::split_pair_rows(four, r, &f32s[p * PANEL..(p + 2) * PANEL]) };
                continue;
            }
            for e in 0..2 {
                if p + e >= k {
                    continue;
                }
                for j in 0..PANEL {
                    let (hi, lo) = split(f32s[(p + e) * PANEL + j]);
                    let (half, c) = (j / 16, j % 16);
                    four[half].0[r * 32 + c * 2 + e] = hi;
                    four[2 + half].0[r * 32 + c * 2 + e] = lo;
                }
            }
        }
    }
}

/// Rows `rows` of A (k wide, stride `lda`) as tiles: per 16 rows (zero past the end, rounded up
/// to [`MR`]) and block of 32 k, a hi and a lo tile. Every element is written, so the buffer is
/// reused without clearing.
fn pack_a(dst: &mut Vec<Tile>, a: &[f32], lda: usize, rows: std::ops::Range<usize>, k: usize) {
    let k_blocks = k.div_ceil(KB);
    let groups = rows.len().div_ceil(MR) * 2;
    if dst.len() < groups * k_blocks * 2 {
        dst.resize(groups * k_blocks * 2, ZERO);
    }
    for g in 0..groups {
        for i in 0..16 {
            let row = rows.start + g * 16 + i;
            let src = if row < rows.end {
                &a[row * lda..row * lda + k]
            } else {
                &[][..]
            };
            for kb in 0..k_blocks {
                let at = (g * k_blocks + kb) * 2;
                let part = src.get(kb * KB..((kb + 1) * KB).min(k)).unwrap_or(&[]);
                let (hi, lo) = dst[at..at + 2].split_at_mut(1);
                split_row(
                    part,
                    &mut hi[0].0[i * 32..i * 32 + 32],
                    &mut lo[0].0[i * 32..][..32],
                );
            }
        }
    }
}

/// Up to 32 floats into the hi and lo halves of one tile row, zeros past `src`.
fn split_row(src: &[f32], hi: &mut [u16], lo: &mut [u16]) {
    #[cfg(target_arch = "x86_64")]
    if src.len() == KB {
        // Safety: AMX CPUs have AVX-512F and BW (`usable` is checked before any packing).
        unsafe { x86::split_32(src, hi, lo) };
        return;
    }
    for t in 0..KB {
        (hi[t], lo[t]) = src.get(t).map_or((0, 0), |&x| split(x));
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// 16 floats into bf16 hi and lo halves, as [`super::split`] does one, each in the upper 16
    /// bits of its lane (the lower 16 are zero).
    #[target_feature(enable = "avx512f,avx512bw")]
    fn split_16(x: __m512) -> (__m512i, __m512i) {
        let round = |bits: __m512i| {
            let lsb = _mm512_and_si512(_mm512_srli_epi32::<16>(bits), _mm512_set1_epi32(1));
            let up = _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb);
            _mm512_and_si512(_mm512_add_epi32(bits, up), _mm512_set1_epi32(-65536))
        };
        let bits = _mm512_castps_si512(x);
        let abs = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fff_ffff));
        let nonfinite = _mm512_cmpge_epu32_mask(abs, _mm512_set1_epi32(0x7f80_0000));
        let nan = _mm512_cmpgt_epu32_mask(abs, _mm512_set1_epi32(0x7f80_0000));
        let big = _mm512_cmpge_epu32_mask(abs, _mm512_set1_epi32(0x7f7f_8000));
        let truncated = _mm512_and_si512(bits, _mm512_set1_epi32(-65536));
        let mut hi = _mm512_mask_mov_epi32(round(bits), big, truncated);
        hi = _mm512_mask_or_epi32(hi, nan, hi, _mm512_set1_epi32(0x0040_0000));
        let rest = _mm512_maskz_sub_ps(!nonfinite, x, _mm512_castsi512_ps(hi));
        (hi, round(_mm512_castps_si512(rest)))
    }

    /// Rows p and p + 1 of a k × 32 panel (`rows`: 64 floats) into row r of the panel's four
    /// tiles for their k block: per column the pair (row p, row p + 1), as hi and as lo.
    ///
    /// Safety: the CPU has AVX-512F and BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn split_pair_rows(four: &mut [super::Tile], r: usize, rows: &[f32]) {
        assert!(four.len() >= 4 && rows.len() >= 64 && r < 16);
        for half in 0..2 {
            // Safety: in bounds (asserted above).
            unsafe {
                let (h0, l0) = split_16(_mm512_loadu_ps(rows.as_ptr().add(half * 16)));
                let (h1, l1) = split_16(_mm512_loadu_ps(rows.as_ptr().add(32 + half * 16)));
                // Little-endian: row p's half in each lane's low 16 bits, row p + 1's above.
                let hi = _mm512_or_si512(_mm512_srli_epi32::<16>(h0), h1);
                let lo = _mm512_or_si512(_mm512_srli_epi32::<16>(l0), l1);
                _mm512_storeu_si512(four[half].0.as_mut_ptr().add(r * 32).cast(), hi);
                _mm512_storeu_si512(four[2 + half].0.as_mut_ptr().add(r * 32).cast(), lo);
            }
        }
    }

    /// Safety: the CPU has AVX-512F and BW; `src` holds 32 floats, `hi` and `lo` 32 slots each.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn split_32(src: &[f32], hi: &mut [u16], lo: &mut [u16]) {
        assert!(src.len() >= 32 && hi.len() >= 32 && lo.len() >= 32);
        for half in 0..2 {
            // Safety: in bounds (asserted above).
            unsafe {
                let (h, l) = split_16(_mm512_loadu_ps(src.as_ptr().add(half * 16)));
                let h = _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(h));
                let l = _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(l));
                _mm256_storeu_si256(hi.as_mut_ptr().add(half * 16).cast(), h);
                _mm256_storeu_si256(lo.as_mut_ptr().add(half * 16).cast(), l);
            }
        }
    }
}

thread_local! {
    /// A task's rows of A as tiles, and its block of C for one panel.
    static SCRATCH: std::cell::RefCell<(Vec<Tile>, Vec<f32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// k blocks of a panel taken at a time: their B tiles (4 KiB a block, 32 KiB) stay in L1 while
/// every row pair of the task passes over them; only A's tiles then come from L2.
const KC_BLOCKS: usize = 8;

/// C[rows, cols] = A[rows, ..k] · B[..k, cols] (+ bias[cols]) on tiles; `cols` starts on a panel
/// boundary.
///
/// Safety: [`usable`] is true; C (through `c`, stride `ldc`) holds the rows and columns given,
/// and no other thread accesses that block.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn run_task(
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    k: usize,
    a: &[f32],
    lda: usize,
    b: &TileB,
    c: SendPtr,
    ldc: usize,
    bias: Option<&[f32]>,
) {
    if rows.is_empty() || cols.is_empty() {
        return;
    }
    debug_assert!(cols.start.is_multiple_of(PANEL));
    // Only the blocks of the k rows used (attention reads the leading rows of a packed V).
    let kbs = k.div_ceil(KB);
    let pairs = rows.len().div_ceil(MR);
    SCRATCH.with_borrow_mut(|(at, block)| {
        pack_a(at, a, lda, rows.clone(), k);
        // C's block is kept here, contiguous, between k chunks: C's own rows may lie 4 KiB
        // apart (1024 or 3072 floats), which would put every row of a tile in one L1 set.
        block.resize(pairs * MR * PANEL, 0.0);
        // Safety: AMX is usable (the caller's contract); the tiles are in bounds of `at` and
        // `b.tiles`, and C's block is the task's.
        unsafe {
            configure();
            let mut j0 = cols.start;
            while j0 < cols.end {
                let live_cols = PANEL.min(cols.end - j0);
                let panel = b.tiles[(j0 / PANEL) * b.k_blocks * 4..].as_ptr();
                for kb0 in (0..kbs).step_by(KC_BLOCKS) {
                    let n_kb = KC_BLOCKS.min(kbs - kb0);
                    for pair in 0..pairs {
                        let cb = block.as_mut_ptr().add(pair * MR * PANEL);
                        if kb0 == 0 {
                            zero();
                        } else {
                            load(cb);
                        }
                        let a0 = at.as_ptr().add((pair * 2 * kbs + kb0) * 2);
                        let a1 = a0.add(kbs * 2);
                        // The next panel's tiles for these k blocks, a share per pair, into L2:
                        // B comes from L3 or memory, and a tile load waits for its lines.
                        if j0 + PANEL < cols.end {
                            let next = panel.add((b.k_blocks + kb0) * 4);
                            let share = (n_kb * 4).div_ceil(pairs);
                            let from = (pair * share).min(n_kb * 4);
                            let to = (from + share).min(n_kb * 4);
                            prefetch(next.add(from), to - from);
                        }
                        kernel(n_kb, a0, a1, panel.add(kb0 * 4));
                        store(cb);
                    }
                }
                let bias = bias.map(|v| &v[j0..j0 + live_cols]);
                for i in 0..rows.len() {
                    let src = std::slice::from_raw_parts(block.as_ptr().add(i * PANEL), live_cols);
                    let dst = std::slice::from_raw_parts_mut(
                        c.at((rows.start + i) * ldc + j0),
                        live_cols,
                    );
                    match bias {
                        Some(bias) => {
                            for ((d, &s), &b) in dst.iter_mut().zip(src).zip(bias) {
                                *d = s + b;
                            }
                        }
                        // A whole row as one fixed-size copy (vector moves, not a call).
                        None if live_cols == PANEL => {
                            *dst.as_mut_ptr().cast::<[f32; PANEL]>() =
                                *src.as_ptr().cast::<[f32; PANEL]>();
                        }
                        None => dst.copy_from_slice(src),
                    }
                }
                j0 += PANEL;
            }
            release();
        }
    });
}

/// Every tile register 16 rows × 64 bytes (palette 1).
///
/// Safety: AMX is usable.
unsafe fn configure() {
    #[repr(C, align(64))]
    struct Config([u8; 64]);
    let mut cfg = Config([0; 64]);
    cfg.0[0] = 1;
    for t in 0..8 {
        cfg.0[16 + 2 * t] = 64;
        cfg.0[48 + t] = 16;
    }
    // Safety: the caller's contract; the config is 64 bytes.
    unsafe { std::arch::asm!("ldtilecfg [{0}]", in(reg) cfg.0.as_ptr(), options(nostack)) };
}

/// Safety: AMX is usable.
unsafe fn release() {
    unsafe { std::arch::asm!("tilerelease", options(nostack, nomem)) };
}

/// tmm0–3 += the 32 × 32 block of C from `kbs` k blocks of A's two row groups (`a0`, `a1`: their
/// tiles, hi and lo alternating) and B's panel (`b`: 4 tiles per k block).
///
/// Safety: AMX is usable and configured; the pointers hold `kbs` blocks each.
unsafe fn kernel(kbs: usize, a0: *const Tile, a1: *const Tile, b: *const Tile) {
    for kb in 0..kbs {
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
fn prefetch(t: *const Tile, tiles: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in 0..tiles * 16 {
        // Safety: a prefetch never faults, whatever the address.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T1>(t.cast::<i8>().wrapping_add(line * 64));
        }
    }
}

/// tmm0–3 = 0.
///
/// Safety: AMX is usable and configured.
unsafe fn zero() {
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
/// Safety: AMX is usable and configured; `c` holds 1024 floats.
unsafe fn load(c: *const f32) {
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
/// Safety: AMX is usable and configured; `c` holds 1024 writable floats.
unsafe fn store(c: *mut f32) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn join(hi: u16, lo: u16) -> f64 {
        f32::from_bits((hi as u32) << 16) as f64 + f32::from_bits((lo as u32) << 16) as f64
    }

    #[test]
    fn split_keeps_16_significant_bits_and_f16_values_exactly() {
        let mut x = 0x1234_5678u32;
        for _ in 0..100_000 {
            // xorshift over every bit pattern but infinities and NaN.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let v = f32::from_bits(x);
            if !v.is_finite() || v.abs() < 1e-30 {
                continue;
            }
            let (hi, lo) = split(v);
            let err = (join(hi, lo) - v as f64).abs();
            assert!(err <= v.abs() as f64 * 2f64.powi(-16), "{v}: {err}");
            let h = half::f16::from_f32(v);
            if h.is_finite() && h.to_f32() != 0.0 {
                let (hi, lo) = split(h.to_f32());
                assert_eq!(join(hi, lo), h.to_f64(), "f16 {h}");
            }
        }
        assert_eq!(split(f32::INFINITY), (0x7f80, 0));
        assert_eq!(split(f32::NEG_INFINITY), (0xff80, 0));
        let (nan, lo) = split(f32::from_bits(0x7f80_0001));
        assert!(f32::from_bits((nan as u32) << 16).is_nan() && lo == 0);
        let (hi, _) = split(f32::MAX);
        assert!(f32::from_bits((hi as u32) << 16).is_finite());
    }

    #[test]
    fn packed_tiles_hold_the_split_of_every_element() {
        if !usable() {
            return;
        }
        // k = 77: two whole k blocks, then a block with an odd row (the scalar tail).
        let (n, k) = (45, 77);
        let mut x = 0x2545_f491u32;
        let data: Vec<f32> = (0..n * k)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 20_001) as f32 / 997.0 - 10.0
            })
            .collect();
        let b = TileB::pack(n, k, &BMatrix::Nk { data: &data, ld: k }, false);
        assert_eq!(b.k_blocks, 3);
        for j in 0..n.next_multiple_of(PANEL) {
            for p in 0..b.k_blocks * KB {
                let want = if j < n && p < k {
                    split(data[j * k + p])
                } else {
                    (0, 0)
                };
                let (panel, half, c) = (j / PANEL, (j % PANEL) / 16, j % 16);
                let (kb, r, e) = (p / KB, (p % KB) / 2, p % 2);
                let four = &b.tiles[(panel * b.k_blocks + kb) * 4..];
                let at = r * 32 + c * 2 + e;
                assert_eq!(
                    (four[half].0[at], four[2 + half].0[at]),
                    want,
                    "B[{p}, {j}]"
                );
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_split_equals_scalar_split() {
        if !(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw")) {
            return;
        }
        let mut values: Vec<f32> = vec![
            0.0,
            -0.0,
            1.0,
            f32::MAX,
            -f32::MAX,
            f32::MIN_POSITIVE,
            1e-40,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::from_bits(0x7f80_0001),
            f32::from_bits(0x3f80_8000),
            f32::from_bits(0x3f81_8000),
        ];
        let mut x = 0x9e37_79b9u32;
        while values.len() < 4096 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            values.push(f32::from_bits(x));
        }
        for chunk in values.chunks_exact(32) {
            let (mut hi, mut lo) = ([0u16; 32], [0u16; 32]);
            // Safety: the features were detected above.
            unsafe { x86::split_32(chunk, &mut hi, &mut lo) };
            for (t, &v) in chunk.iter().enumerate() {
                assert_eq!((hi[t], lo[t]), split(v), "{v} ({:#x})", v.to_bits());
            }
        }
    }
}
