//! The portable micro-kernel (the reference for the vector ones in `crate::arch`; the edge store
//! they all share is `crate::common::gemm::store`).
//!
//! A micro-kernel computes a block of C (`R × nr`) from a packed A panel (R rows at a stride of
//! [`A_STRIDE`], K block `kc` long) and a packed B panel (`kc` × [`PANEL`]), with the block held
//! in registers for the whole k loop. Edge blocks compute the full width (panels are
//! zero-padded) and store only the live columns.

use crate::common::gemm::{A_STRIDE, PANEL, store};

/// Columns per call of the portable kernel: half a panel.
pub(crate) const NR: usize = 16;
/// Rows of the portable kernel's main variant (4 × 16 accumulators the compiler can keep in
/// registers).
pub(crate) const MR: usize = 4;

/// `C[..R, ..cols] (+)= A · B` for one K block.
///
/// # Safety
/// `a` holds R rows of `kc` floats at stride [`A_STRIDE`], `b` `kc` rows of [`PANEL`] floats
/// (of which the first 16 are read), and `c` R rows of `cols` (≤ 16) writable floats at stride
/// `ldc` that nobody else accesses during the call (see [`super::kernels::KernelFn`]).
pub(crate) unsafe fn kernel<const R: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    accumulate: bool,
) {
    let mut acc = [[0f32; NR]; R];
    for p in 0..kc {
        // SAFETY: row p < kc of the B panel, 16 of its PANEL floats (the contract).
        let bp = unsafe { std::slice::from_raw_parts(b.add(p * PANEL), NR) };
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: element p < kc of A's row i < R (the contract).
            let ai = unsafe { *a.add(i * A_STRIDE + p) };
            for (o, &bv) in row.iter_mut().zip(bp) {
                *o += ai * bv;
            }
        }
    }
    // SAFETY: C's block is R rows of `cols` at `ldc` (the contract).
    unsafe { store(&acc, c, ldc, cols, accumulate) }
}
