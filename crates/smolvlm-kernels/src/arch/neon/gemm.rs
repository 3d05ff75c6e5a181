//! The GEMM's NEON micro-kernel (see `crate::gemm::scalar` for the reference and the shape): 16
//! columns, four 4-wide vectors per row.

use std::arch::aarch64::*;

use crate::common::gemm::store;
use crate::common::gemm::{A_STRIDE, PANEL};

/// Columns per call: half a panel, four vectors.
pub(crate) const NR: usize = 16;
/// Rows of the main variant: 24 accumulators, 4 B vectors and 1 broadcast, 29 of the 32 vector
/// registers.
pub(crate) const MR: usize = 6;

/// # Safety
/// The CPU has NEON; the pointers as [`crate::gemm::scalar::kernel`]'s.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn kernel<const R: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    accumulate: bool,
) {
    let mut acc = [[vdupq_n_f32(0.0); 4]; R];
    for p in 0..kc {
        // SAFETY: row p < kc of the B panel (16 floats read of PANEL) and element p of A's rows
        // i < R, all inside the panels (the caller's contract).
        unsafe {
            let bp = b.add(p * PANEL);
            let bv = [0, 4, 8, 12].map(|o| vld1q_f32(bp.add(o)));
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = vld1q_dup_f32(a.add(i * A_STRIDE + p));
                for (v, &bj) in row.iter_mut().zip(&bv) {
                    *v = vfmaq_f32(*v, bj, ai);
                }
            }
        }
    }
    if cols == NR {
        for (i, row) in acc.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                // SAFETY: a full-width block: row i of C has NR writable floats (the contract).
                unsafe {
                    let out = c.add(i * ldc + 4 * j);
                    let v = if accumulate {
                        vaddq_f32(v, vld1q_f32(out))
                    } else {
                        v
                    };
                    vst1q_f32(out, v);
                }
            }
        }
        return;
    }
    let mut block = [[0f32; NR]; R];
    for (dst, row) in block.iter_mut().zip(&acc) {
        for (j, &v) in row.iter().enumerate() {
            // SAFETY: `dst` is NR = 16 floats, four vectors.
            unsafe { vst1q_f32(dst.as_mut_ptr().add(4 * j), v) };
        }
    }
    // SAFETY: C's block is R rows of `cols` at `ldc` (the contract).
    unsafe { store(&block, c, ldc, cols, accumulate) }
}
