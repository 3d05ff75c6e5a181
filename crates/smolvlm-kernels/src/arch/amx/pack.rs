//! The operands of a tile product laid out as tiles (see the module above): B once per weight
//! ([`TileB`]), A per task ([`pack_a`]).

use std::ops::Range;

use super::{B_TILES, KB, MR, TILE_ROWS, Tile, ZERO};
use crate::arch::avx512::bf16::{split_32, split_pair_rows};
use crate::common::bf16::split;
use crate::common::gemm::PANEL;
use crate::send_ptr::SendPtr;

/// B packed as tiles: `panels × k_blocks × 4` tiles (see the module docs).
#[derive(Clone, Default)]
pub(crate) struct TileB {
    pub(super) tiles: Vec<Tile>,
    pub(super) k_blocks: usize,
}

impl TileB {
    pub(crate) fn bytes(&self) -> usize {
        self.tiles.len() * std::mem::size_of::<Tile>()
    }

    /// Packs B (n × k as the product sees it): each panel through the f32 packing
    /// (`pack_panel(dst, j0)` fills `dst`, k × [`PANEL`], with columns `j0..` of B, zero past n:
    /// `crate::gemm`'s packing, which knows B's forms), then split. Only where
    /// `crate::cpu::amx_usable` (which implies AVX-512 F and BW, used for the split).
    pub(crate) fn pack(
        n: usize,
        k: usize,
        pack_panel: impl Fn(&mut [f32], usize) + Sync,
        threaded: bool,
    ) -> Self {
        assert!(crate::cpu::amx_usable(), "tiles packed without AMX");
        let panels = n.div_ceil(PANEL);
        let k_blocks = k.div_ceil(KB);
        let mut tiles = vec![ZERO; panels * k_blocks * B_TILES];
        let out = SendPtr::new(tiles.as_mut_ptr());
        let pack = |panel: usize| {
            let mut f32s = vec![0f32; k * PANEL];
            pack_panel(&mut f32s, panel * PANEL);
            let per_panel = k_blocks * B_TILES;
            // SAFETY: the buffer holds `panels` panels of `per_panel` tiles, and each call of
            // `pack` (one per panel) writes only its own.
            let dst = unsafe { out.slice_mut(panel * per_panel, per_panel) };
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
    for (kb, four) in dst.chunks_exact_mut(B_TILES).enumerate() {
        for r in 0..TILE_ROWS {
            let p = kb * KB + 2 * r;
            if p + 1 < k {
                let [h0, h1, l0, l1] = four else {
                    unreachable!("chunks of {B_TILES}")
                };
                let at = r * KB..(r + 1) * KB;
                let (hi, lo) = (
                    [&mut h0.0[at.clone()], &mut h1.0[at.clone()]],
                    [&mut l0.0[at.clone()], &mut l1.0[at]],
                );
                // SAFETY: tiles are packed only where AMX is usable, which implies AVX-512F and
                // BW (`TileB::pack` asserts it).
                unsafe { split_pair_rows(&f32s[p * PANEL..(p + 2) * PANEL], hi, lo) };
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
/// reused without clearing. Only where AMX is usable (which implies AVX-512 F and BW).
pub(super) fn pack_a(dst: &mut Vec<Tile>, a: &[f32], lda: usize, rows: Range<usize>, k: usize) {
    let k_blocks = k.div_ceil(KB);
    let groups = rows.len().div_ceil(MR) * (MR / TILE_ROWS);
    if dst.len() < groups * k_blocks * 2 {
        dst.resize(groups * k_blocks * 2, ZERO);
    }
    for g in 0..groups {
        for i in 0..TILE_ROWS {
            let row = rows.start + g * TILE_ROWS + i;
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
                    &mut hi[0].0[i * KB..i * KB + KB],
                    &mut lo[0].0[i * KB..][..KB],
                );
            }
        }
    }
}

/// Up to 32 floats into the hi and lo halves of one tile row, zeros past `src`.
fn split_row(src: &[f32], hi: &mut [u16], lo: &mut [u16]) {
    if src.len() == KB {
        // SAFETY: A is packed only where AMX is usable, which implies AVX-512F and BW
        // (`crate::cpu`); the three slices are 32 long.
        unsafe { split_32(src, hi, lo) };
        return;
    }
    for t in 0..KB {
        (hi[t], lo[t]) = src.get(t).map_or((0, 0), |&x| split(x));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::BMatrix;
    use crate::gemm::panel::pack_panel;

    #[test]
    fn packed_tiles_hold_the_split_of_every_element() {
        if !crate::cpu::amx_usable() {
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
        let nk = BMatrix::Nk { data: &data, ld: k };
        let b = TileB::pack(n, k, |dst, j0| pack_panel(dst, j0, n, k, &nk), false);
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
}
