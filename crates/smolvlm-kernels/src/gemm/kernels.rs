//! Which micro-kernel a product runs: per [`SimdLevel`], the kernels of `crate::arch` (or the
//! portable one, [`super::scalar`]) with their row counts.

use crate::cpu::SimdLevel;

/// `(kc, a_panel, b_panel, c, ldc, live_cols, accumulate)`; the variant's row count R is fixed.
///
/// # Safety
/// The CPU has the features of the level the kernel was chosen for; `a_panel` holds R rows of
/// `kc` floats at stride [`crate::common::gemm::A_STRIDE`], `b_panel` `kc` rows of a panel
/// ([`crate::common::gemm::PANEL`] floats apart, the kernel's `nr` columns from there), and `c` R
/// rows of `live_cols` (≤ `nr`) writable floats at stride `ldc`, which nobody else accesses
/// during the call. `accumulate` adds to C instead of overwriting it.
pub type KernelFn = unsafe fn(usize, *const f32, *const f32, *mut f32, usize, usize, bool);

#[derive(Clone, Copy)]
pub struct Kernel {
    /// Columns per call: a whole panel or half of one.
    pub nr: usize,
    /// Row counts with their kernels, ascending; the last is the main one.
    pub variants: &'static [(usize, KernelFn)],
}

impl Kernel {
    /// The kernels for `level`, capped to what this CPU runs (so that every [`KernelFn`]
    /// returned may be called here). Besides the main height, edge variants (1 row, and 4 under
    /// the taller kernels) keep a product's last few rows from costing a whole main block.
    pub fn for_level(level: SimdLevel) -> Self {
        let level = level.capped();
        #[cfg(target_arch = "x86_64")]
        match level {
            SimdLevel::Avx512 | SimdLevel::Amx => {
                use crate::arch::avx512::gemm::{MR, NR, kernel};
                return Kernel {
                    nr: NR,
                    variants: &[(1, kernel::<1>), (4, kernel::<4>), (MR, kernel::<MR>)],
                };
            }
            SimdLevel::Avx2 => {
                use crate::arch::avx2::gemm::{MR, NR, kernel};
                return Kernel {
                    nr: NR,
                    variants: &[(1, kernel::<1>), (MR, kernel::<MR>)],
                };
            }
            SimdLevel::Scalar | SimdLevel::Neon => {}
        }
        #[cfg(target_arch = "aarch64")]
        if level == SimdLevel::Neon {
            use crate::arch::neon::gemm::{MR, NR, kernel};
            return Kernel {
                nr: NR,
                variants: &[(1, kernel::<1>), (4, kernel::<4>), (MR, kernel::<MR>)],
            };
        }
        let _ = level;
        use super::scalar::{MR, NR, kernel};
        Kernel {
            nr: NR,
            variants: &[(1, kernel::<1>), (MR, kernel::<MR>)],
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
