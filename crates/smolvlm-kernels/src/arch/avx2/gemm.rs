//! The GEMM's AVX2 + FMA micro-kernel (see `crate::gemm::scalar` for the reference and the
//! shape): 16 columns, two 8-wide vectors per row.

use std::arch::x86_64::*;

use crate::common::gemm::store;
use crate::common::gemm::{A_STRIDE, PANEL};

/// Columns per call: half a panel, two vectors.
pub(crate) const NR: usize = 16;
/// Rows of the main variant: 12 accumulators, 2 B vectors and 1 broadcast, 15 of the 16 ymm
/// registers.
pub(crate) const MR: usize = 6;

/// # Safety
/// The CPU has AVX2 and FMA; the pointers as [`crate::gemm::scalar::kernel`]'s.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn kernel<const R: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    accumulate: bool,
) {
    let mut c0 = [_mm256_setzero_ps(); R];
    let mut c1 = [_mm256_setzero_ps(); R];
    for p in 0..kc {
        // SAFETY: row p < kc of the B panel (16 floats read of PANEL) and element p of A's rows
        // i < R, all inside the panels (the caller's contract).
        unsafe {
            let b0 = _mm256_loadu_ps(b.add(p * PANEL));
            let b1 = _mm256_loadu_ps(b.add(p * PANEL + 8));
            for i in 0..R {
                let ai = _mm256_broadcast_ss(&*a.add(i * A_STRIDE + p));
                c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
                c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
            }
        }
    }
    if cols == NR {
        for i in 0..R {
            // SAFETY: a full-width block: row i of C has NR writable floats (the contract).
            unsafe {
                let out = c.add(i * ldc);
                let (mut v0, mut v1) = (c0[i], c1[i]);
                if accumulate {
                    v0 = _mm256_add_ps(v0, _mm256_loadu_ps(out));
                    v1 = _mm256_add_ps(v1, _mm256_loadu_ps(out.add(8)));
                }
                _mm256_storeu_ps(out, v0);
                _mm256_storeu_ps(out.add(8), v1);
            }
        }
        return;
    }
    let mut acc = [[0f32; NR]; R];
    for i in 0..R {
        // SAFETY: `acc[i]` is NR = 16 floats, two vectors.
        unsafe {
            _mm256_storeu_ps(acc[i].as_mut_ptr(), c0[i]);
            _mm256_storeu_ps(acc[i].as_mut_ptr().add(8), c1[i]);
        }
    }
    // SAFETY: C's block is R rows of `cols` at `ldc` (the contract).
    unsafe { store(&acc, c, ldc, cols, accumulate) }
}
