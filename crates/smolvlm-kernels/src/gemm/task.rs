//! One task of a product: a block of C (rows × columns), over all of K, on one thread.

use std::cell::RefCell;
use std::ops::Range;

use super::kernels::{Kernel, KernelFn};
use super::pack::{PackedB, Panels};
use super::panel::holds;
use crate::common::gemm::{A_STRIDE, KC, PANEL};
use crate::send_ptr::SendPtr;

/// Panics unless A holds m × k at stride `lda` and C (`c_len` floats) m × n at stride `ldc`.
pub(crate) fn check_ac(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    c_len: usize,
    ldc: usize,
) {
    assert!(
        lda >= k && holds(a.len(), m, lda, k),
        "gemm: A is not {m}×{k} with stride {lda}"
    );
    assert!(
        ldc >= n && holds(c_len, m, ldc, n),
        "gemm: C is not {m}×{n} with stride {ldc}"
    );
}

/// Where a task writes: C at stride `ldc`, with `bias[j]` added to column j when given.
#[derive(Clone, Copy)]
pub(crate) struct Out<'a> {
    pub(crate) c: SendPtr,
    pub(crate) ldc: usize,
    pub(crate) bias: Option<&'a [f32]>,
}

impl Out<'_> {
    /// Adds the bias to C's block `rows × cols`.
    ///
    /// # Safety
    /// The block is inside C and the caller's alone during the call.
    unsafe fn add_bias(&self, rows: Range<usize>, cols: Range<usize>) {
        let Some(bias) = self.bias else { return };
        for i in rows {
            // SAFETY: row i of the block, inside C and the caller's (this function's contract).
            let row = unsafe { self.c.slice_mut(i * self.ldc + cols.start, cols.len()) };
            row.iter_mut()
                .zip(&bias[cols.clone()])
                .for_each(|(o, v)| *o += v);
        }
    }
}

thread_local! {
    /// A task's rows of A for one K block, packed, and an edge block of C.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// C[rows, cols] = A[rows, ..k] · B[..k, cols] (+ bias[cols]).
///
/// # Safety
/// `kernel` is one this CPU runs; A holds the rows (checked by `check_ac`), C (through `out`)
/// holds the rows and columns given, and no other thread accesses that block during the call.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn run_task(
    kernel: Kernel,
    rows: Range<usize>,
    cols: Range<usize>,
    k: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    out: Out<'_>,
) {
    let (nr, mr) = (kernel.nr, kernel.mr());
    let (c, ldc) = (out.c, out.ldc);
    if rows.is_empty() || cols.is_empty() {
        return;
    }
    if k == 0 {
        for i in rows.clone() {
            // SAFETY: row i of the block is the caller's (this function's contract).
            unsafe { c.slice_mut(i * ldc + cols.start, cols.len()).fill(0.0) };
        }
        // SAFETY: as above.
        unsafe { out.add_bias(rows, cols) };
        return;
    }
    let packed = match &b.panels {
        Panels::F32(data) => data.as_slice(),
        #[cfg(target_arch = "x86_64")]
        Panels::Tiles(tiles) => {
            // SAFETY: tiles are packed only where `cpu::amx_usable` (`TileB::pack` asserts it);
            // A and the block of C are the caller's (this function's contract).
            return unsafe {
                crate::arch::amx::task::run_task(rows, cols, k, a, lda, tiles, c, ldc, out.bias)
            };
        }
    };
    let m = rows.len();
    // Each K block of the task's rows of A is copied at a stride of A_STRIDE, zero-padded to the
    // kernels' heights. The fixed stride makes each row's address one pointer plus a constant in
    // the kernel, and rows of A whose own stride is a multiple of 4 KiB (3072 or 1024 floats:
    // the MLP's down projection, attention scores) would all fall in one L1 set, which 14 of them
    // overflow.
    let panels: Vec<(usize, usize, usize, KernelFn)> = (0..m)
        .step_by(mr)
        .map(|i| {
            let live = mr.min(m - i);
            let (kr, run) = kernel.for_rows(live);
            (i, live, kr, run)
        })
        .collect();
    let panel_rows: usize = panels.iter().map(|p| p.2).sum();
    SCRATCH.with_borrow_mut(|(block, edge)| {
        block.resize(panel_rows * A_STRIDE, 0.0);
        let mut p0 = 0;
        while p0 < k {
            let kc = KC.min(k - p0);
            let mut at = 0;
            for &(i, live, kr, _) in &panels {
                let dst = &mut block[at..at + kr * A_STRIDE];
                for ii in 0..kr {
                    let d = &mut dst[ii * A_STRIDE..ii * A_STRIDE + kc];
                    if ii < live {
                        d.copy_from_slice(&a[(rows.start + i + ii) * lda + p0..][..kc]);
                    } else {
                        d.fill(0.0);
                    }
                }
                at += kr * A_STRIDE;
            }
            let accumulate = p0 > 0;
            let mut j0 = cols.start;
            while j0 < cols.end {
                let live_cols = nr.min(cols.end - j0);
                // Panel j0 / PANEL, its half (16-wide kernels), rows from p0.
                let b_at = (j0 / PANEL) * b.k * PANEL + p0 * PANEL + j0 % PANEL;
                let bp = packed[b_at..].as_ptr();
                let mut at = 0;
                for &(i, live, kr, run) in &panels {
                    let ap = block[at..].as_ptr();
                    at += kr * A_STRIDE;
                    let c_at = (rows.start + i) * ldc + j0;
                    if kr == live {
                        // SAFETY: the kernel runs on this CPU (the contract); `block` holds
                        // kr rows of kc at A_STRIDE from `ap`, the packed B kc rows of its panel
                        // from `bp` (p0 + kc ≤ k), and the kr × live_cols block of C at `c_at`
                        // is the task's.
                        unsafe { run(kc, ap, bp, c.add(c_at), ldc, live_cols, accumulate) };
                        continue;
                    }
                    // The kernel writes kr rows: into a scratch block, then the live ones.
                    edge.clear();
                    edge.resize(kr * nr, 0.0);
                    // SAFETY: as above, with `edge` (kr rows of nr) as C: `block` holds kr
                    // (zero-padded) rows.
                    unsafe { run(kc, ap, bp, edge.as_mut_ptr(), nr, live_cols, false) };
                    for ii in 0..live {
                        // SAFETY: row ii of the block of C is the task's.
                        let out = unsafe { c.slice_mut(c_at + ii * ldc, live_cols) };
                        let got = &edge[ii * nr..ii * nr + live_cols];
                        if accumulate {
                            out.iter_mut().zip(got).for_each(|(o, v)| *o += v);
                        } else {
                            out.copy_from_slice(got);
                        }
                    }
                }
                j0 += nr;
            }
            p0 += kc;
        }
    });
    // SAFETY: the block is the task's (this function's contract).
    unsafe { out.add_bias(rows, cols) };
}
