//! One task of a tile product: a block of C, over all of K, on one thread.

use std::cell::RefCell;
use std::ops::Range;

use super::pack::{TileB, pack_a};
use super::tiles::{configure, kernel, load, prefetch, release, store, zero};
use super::{B_TILES, KB, KC_BLOCKS, MR, Tile};
use crate::common::gemm::PANEL;
use crate::send_ptr::SendPtr;

thread_local! {
    /// A task's rows of A as tiles, and its block of C for one panel.
    static SCRATCH: RefCell<(Vec<Tile>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// C[rows, cols] = A[rows, ..k] · B[..k, cols] (+ bias[cols]) on tiles; `cols` starts on a panel
/// boundary.
///
/// # Safety
/// AMX is usable (`crate::cpu::amx_usable`); A holds the rows, k wide at `lda`; C (through `c`,
/// stride `ldc`) holds the rows and columns given, and no other thread accesses that block.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn run_task(
    rows: Range<usize>,
    cols: Range<usize>,
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
    assert!(cols.start.is_multiple_of(PANEL), "tile task columns");
    // Only the blocks of the k rows used (attention reads the leading rows of a packed V).
    let kbs = k.div_ceil(KB);
    let pairs = rows.len().div_ceil(MR);
    SCRATCH.with_borrow_mut(|(at, block)| {
        pack_a(at, a, lda, rows.clone(), k);
        // C's block is kept here, contiguous, between k chunks: C's own rows may lie 4 KiB
        // apart (1024 or 3072 floats), which would put every row of a tile in one L1 set.
        block.resize(pairs * MR * PANEL, 0.0);
        // SAFETY: AMX is usable (the caller's contract) and configured first on this thread.
        // `pack_a` made `pairs · 2` row groups of `kbs · 2` tiles in `at`, so `a0`/`a1` have the
        // tiles of blocks kb0..kb0 + n_kb; the panel at j0 has `b.k_blocks ≥ kbs` blocks of 4
        // tiles in `b.tiles`; `cb` is pair's 32 × 32 floats of `block`; C's rows and columns
        // are the task's (the caller's contract) and `live_cols` stays inside `cols`.
        unsafe {
            configure();
            let mut j0 = cols.start;
            while j0 < cols.end {
                let live_cols = PANEL.min(cols.end - j0);
                let panel = b.tiles[(j0 / PANEL) * b.k_blocks * B_TILES..].as_ptr();
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
                            let next = panel.add((b.k_blocks + kb0) * B_TILES);
                            let share = (n_kb * B_TILES).div_ceil(pairs);
                            let from = (pair * share).min(n_kb * B_TILES);
                            let to = (from + share).min(n_kb * B_TILES);
                            prefetch(next.add(from), to - from);
                        }
                        kernel(n_kb, a0, a1, panel.add(kb0 * B_TILES));
                        store(cb);
                    }
                }
                let bias = bias.map(|v| &v[j0..j0 + live_cols]);
                for i in 0..rows.len() {
                    let src = std::slice::from_raw_parts(block.as_ptr().add(i * PANEL), live_cols);
                    let dst = c.slice_mut((rows.start + i) * ldc + j0, live_cols);
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
