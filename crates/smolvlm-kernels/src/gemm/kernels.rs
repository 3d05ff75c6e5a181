//! Micro-kernels: a block of C (`R × nr`) from a packed A panel (k × R: the R rows interleaved,
//! so one pointer walks it) and a packed B panel (k × [`PANEL`]), with the block held in
//! registers for the whole k loop. Edge blocks compute the full width (panels are zero-padded)
//! and store only the live columns.

use super::{A_STRIDE, PANEL};
use crate::dot::SimdLevel;

/// `(kc, a_panel, b_panel, c, ldc, live_cols, accumulate)`; the variant's row count is fixed.
pub type KernelFn = unsafe fn(usize, *const f32, *const f32, *mut f32, usize, usize, bool);

#[derive(Clone, Copy)]
pub struct Kernel {
    /// Columns per call: a whole panel or half of one.
    pub nr: usize,
    /// Row counts with their kernels, ascending; the last is the main one.
    pub variants: &'static [(usize, KernelFn)],
}

impl Kernel {
    pub fn for_level(level: SimdLevel) -> Self {
        #[cfg(target_arch = "x86_64")]
        match level {
            SimdLevel::Avx512 | SimdLevel::Amx => {
                return Kernel {
                    nr: 32,
                    variants: &[
                        (1, avx512::kernel::<1>),
                        (4, avx512::kernel::<4>),
                        (14, avx512::kernel::<14>),
                    ],
                };
            }
            SimdLevel::Avx2 => {
                return Kernel {
                    nr: 16,
                    variants: &[(1, avx2::kernel::<1>), (6, avx2::kernel::<6>)],
                };
            }
            SimdLevel::Scalar | SimdLevel::Neon => {}
        }
        #[cfg(target_arch = "aarch64")]
        if level == SimdLevel::Neon {
            return Kernel {
                nr: 16,
                variants: &[
                    (1, neon::kernel::<1>),
                    (4, neon::kernel::<4>),
                    (6, neon::kernel::<6>),
                ],
            };
        }
        let _ = level;
        Kernel {
            nr: 16,
            variants: &[(1, portable::kernel::<1>), (4, portable::kernel::<4>)],
        }
    }

    /// The main kernel's rows.
    pub fn mr(&self) -> usize {
        self.variants.last().expect("kernels have variants").0
    }

    /// The kernel for `live` rows (≤ [`Self::mr`]) and the rows it reads.
    pub fn for_rows(&self, live: usize) -> (usize, KernelFn) {
        *self
            .variants
            .iter()
            .find(|(rows, _)| *rows >= live)
            .expect("live rows within the main kernel's")
    }
}

/// Writes an accumulated block's live columns to C.
///
/// Safety: C has `R` rows of `cols` writable floats at stride `ldc`.
#[inline(always)]
unsafe fn store<const R: usize, const NR: usize>(
    acc: &[[f32; NR]; R],
    c: *mut f32,
    ldc: usize,
    cols: usize,
    accumulate: bool,
) {
    for (i, row) in acc.iter().enumerate() {
        // Safety: in bounds by the caller's contract.
        let out = unsafe { std::slice::from_raw_parts_mut(c.add(i * ldc), cols) };
        if accumulate {
            out.iter_mut().zip(row).for_each(|(o, v)| *o += v);
        } else {
            out.copy_from_slice(&row[..cols]);
        }
    }
}

mod portable {
    use super::{A_STRIDE, PANEL};

    const NR: usize = 16;

    /// Safety: see [`super::KernelFn`]: A holds kc × R floats, B kc rows at PANEL.
    pub unsafe fn kernel<const R: usize>(
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
            // Safety: in bounds by the caller's contract.
            let bp = unsafe { std::slice::from_raw_parts(b.add(p * PANEL), NR) };
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = unsafe { *a.add(i * A_STRIDE + p) };
                for (o, &bv) in row.iter_mut().zip(bp) {
                    *o += ai * bv;
                }
            }
        }
        unsafe { super::store(&acc, c, ldc, cols, accumulate) }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{A_STRIDE, PANEL};
    use std::arch::x86_64::*;

    const NR: usize = 16;

    /// Safety: the CPU has AVX2 and FMA; see [`super::KernelFn`].
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn kernel<const R: usize>(
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
            unsafe {
                _mm256_storeu_ps(acc[i].as_mut_ptr(), c0[i]);
                _mm256_storeu_ps(acc[i].as_mut_ptr().add(8), c1[i]);
            }
        }
        unsafe { super::store(&acc, c, ldc, cols, accumulate) }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{A_STRIDE, PANEL};
    use std::arch::x86_64::*;

    /// With R = 14: 28 accumulators, 2 B vectors and 1 broadcast, 31 of the 32 zmm registers.
    ///
    /// Safety: the CPU has AVX-512F; see [`super::KernelFn`].
    #[target_feature(enable = "avx512f")]
    pub unsafe fn kernel<const R: usize>(
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
}

#[cfg(target_arch = "aarch64")]
mod neon {
    use super::{A_STRIDE, PANEL};
    use std::arch::aarch64::*;

    const NR: usize = 16;

    /// With R = 6: 24 accumulators, 4 B vectors and 1 broadcast, 29 of the 32 vector registers.
    ///
    /// Safety: the CPU has NEON; see [`super::KernelFn`].
    #[target_feature(enable = "neon")]
    pub unsafe fn kernel<const R: usize>(
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
                unsafe { vst1q_f32(dst.as_mut_ptr().add(4 * j), v) };
            }
        }
        unsafe { super::store(&block, c, ldc, cols, accumulate) }
    }
}
