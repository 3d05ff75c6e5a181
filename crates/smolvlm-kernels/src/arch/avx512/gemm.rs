//! The GEMM's AVX-512F micro-kernel (see `crate::gemm::scalar` for the reference and the
//! shape): a whole 32-column panel, two 16-wide vectors per row, edges by masked stores.

use std::arch::x86_64::*;

use crate::common::gemm::{A_STRIDE, PANEL};

/// Columns per call: a whole panel.
pub(crate) const NR: usize = PANEL;
/// Rows of the main variant: 28 accumulators, 2 B vectors and 1 broadcast, 31 of the 32 zmm
/// registers.
pub(crate) const MR: usize = 14;

/// # Safety
/// The CPU has AVX-512F; the pointers as [`crate::gemm::scalar::kernel`]'s, with `cols` ≤ 32.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn kernel<const R: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    accumulate: bool,
) {
    let mut c0 = [_mm512_setzero_ps(); R];
    let mut c1 = [_mm512_setzero_ps(); R];
    for p in 0..kc {
        // SAFETY: row p < kc of the B panel (PANEL floats) and element p of A's rows i < R, all
        // inside the panels (the caller's contract).
        unsafe {
            let b0 = _mm512_loadu_ps(b.add(p * PANEL));
            let b1 = _mm512_loadu_ps(b.add(p * PANEL + 16));
            for i in 0..R {
                let ai = _mm512_set1_ps(*a.add(i * A_STRIDE + p));
                c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
                c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
            }
        }
    }
    let m0: __mmask16 = if cols >= 16 {
        0xffff
    } else {
        (1u16 << cols) - 1
    };
    let m1: __mmask16 = if cols >= 32 {
        0xffff
    } else if cols > 16 {
        (1u16 << (cols - 16)) - 1
    } else {
        0
    };
    for i in 0..R {
        // SAFETY: the masks cover the first `cols` floats of row i of C, which are writable
        // (the contract); masked-off lanes are neither read nor written.
        unsafe {
            let out = c.add(i * ldc);
            let (mut v0, mut v1) = (c0[i], c1[i]);
            if accumulate {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, out));
                v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, out.add(16)));
            }
            _mm512_mask_storeu_ps(out, m0, v0);
            _mm512_mask_storeu_ps(out.add(16), m1, v1);
        }
    }
}
