//! The element types of keys and values, with their kernels for the few-query path: the
//! portable ones here, the vector ones in `crate::arch` (`avx2::attention`, `neon::attention`).

use std::borrow::Cow;

use half::f16;

/// What keys and values may be stored as: f32, or f16 (a KV cache at half the memory, as
/// llama.cpp keeps it).
pub trait KvElement: Copy + Send + Sync + 'static {
    /// This element's vector kernels (AVX2/FMA/F16C, or NEON), where the target has them.
    #[doc(hidden)]
    const SIMD: Option<SimdKernels<Self>>;

    /// `rows` rows of `width` at stride `ld` as f32 rows, and their stride: borrowed where
    /// they already are f32, widened otherwise.
    fn rows_f32(x: &[Self], rows: usize, width: usize, ld: usize) -> (Cow<'_, [f32]>, usize);

    fn to_f32(self) -> f32;

    /// `out[j] = q · rows[j]` for `n` rows of `q.len()` at `stride` elements; `simd`: use
    /// [`Self::SIMD`]'s kernels (the caller's choice; they run only where the CPU has their
    /// features).
    fn scores(simd: bool, q: &[f32], rows: &[Self], stride: usize, n: usize, out: &mut [f32]) {
        assert!(rows_fit(rows.len(), n, stride, q.len()), "attention rows");
        match Self::SIMD {
            // SAFETY: `vector_kernels_run` found the kernels' features on this CPU; the rows are
            // in bounds (asserted above) and `out` is a slice of at least n (the kernel indexes
            // it, checked).
            Some(k) if simd && vector_kernels_run() => unsafe {
                (k.scores)(q, rows, stride, n, out)
            },
            _ => scores_portable(q, rows, stride, n, out),
        }
    }

    /// `out = Σⱼ p[j] · rows[j]` for `p.len()` rows of `out.len()` at `stride` elements.
    fn weighted_sum(simd: bool, p: &[f32], rows: &[Self], stride: usize, out: &mut [f32]) {
        let n = p.len();
        assert!(rows_fit(rows.len(), n, stride, out.len()), "attention rows");
        match Self::SIMD {
            // SAFETY: as above: the features are there and the rows in bounds (asserted).
            Some(k) if simd && vector_kernels_run() => unsafe {
                (k.weighted_sum)(p, rows, stride, out)
            },
            _ => weighted_sum_portable(p, rows, stride, out),
        }
    }
}

/// Whether `len` elements hold `n` rows of `width` at `stride`, computed without wrapping (the
/// vector kernels read the rows through raw pointers).
fn rows_fit(len: usize, n: usize, stride: usize, width: usize) -> bool {
    match n.checked_sub(1) {
        None => true,
        Some(last) => last
            .checked_mul(stride)
            .and_then(|at| at.checked_add(width))
            .is_some_and(|end| len >= end),
    }
}

/// Whether this CPU runs the attention's vector kernels: AVX2, FMA and F16C on x86-64, NEON
/// on AArch64 — exactly when its hardware level is not scalar.
fn vector_kernels_run() -> bool {
    crate::cpu::SimdLevel::hardware() != crate::cpu::SimdLevel::Scalar
}

/// The vector kernels of one K/V element type (`crate::arch::avx2::attention` or
/// `crate::arch::neon::attention`). Both require the CPU to have their ISA's features, and rows
/// `0..n` of `q.len()` (`scores`) or `0..p.len()` of `out.len()` (`weighted_sum`) at `stride`
/// elements to lie in `rows`.
#[doc(hidden)]
pub struct SimdKernels<T: 'static> {
    scores: unsafe fn(&[f32], &[T], usize, usize, &mut [f32]),
    weighted_sum: unsafe fn(&[f32], &[T], usize, &mut [f32]),
}

// Manual impls: a derive would require `T: Copy`, which the function pointers do not need.
impl<T> Clone for SimdKernels<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SimdKernels<T> {}

fn scores_portable<T: KvElement>(q: &[f32], rows: &[T], stride: usize, n: usize, out: &mut [f32]) {
    for (j, o) in out[..n].iter_mut().enumerate() {
        let row = &rows[j * stride..j * stride + q.len()];
        // 8 independent lanes, which the compiler vectorizes (a plain float sum must keep its
        // order, so it would not be).
        let mut lanes = [0f32; 8];
        for (qc, rc) in q.chunks(8).zip(row.chunks(8)) {
            for (l, (&a, &b)) in qc.iter().zip(rc).enumerate() {
                lanes[l] += a * b.to_f32();
            }
        }
        *o = lanes.iter().sum();
    }
}

fn weighted_sum_portable<T: KvElement>(p: &[f32], rows: &[T], stride: usize, out: &mut [f32]) {
    out.fill(0.0);
    for (j, &pj) in p.iter().enumerate() {
        let row = &rows[j * stride..j * stride + out.len()];
        out.iter_mut()
            .zip(row)
            .for_each(|(o, x)| *o += pj * x.to_f32());
    }
}

impl KvElement for f32 {
    #[cfg(target_arch = "x86_64")]
    const SIMD: Option<SimdKernels<f32>> = Some(SimdKernels {
        scores: crate::arch::avx2::attention::scores_f32,
        weighted_sum: crate::arch::avx2::attention::weighted_sum_f32,
    });
    #[cfg(target_arch = "aarch64")]
    const SIMD: Option<SimdKernels<f32>> = Some(SimdKernels {
        scores: crate::arch::neon::attention::scores_f32,
        weighted_sum: crate::arch::neon::attention::weighted_sum_f32,
    });
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    const SIMD: Option<SimdKernels<f32>> = None;

    fn rows_f32(x: &[f32], _: usize, _: usize, ld: usize) -> (Cow<'_, [f32]>, usize) {
        (Cow::Borrowed(x), ld)
    }

    fn to_f32(self) -> f32 {
        self
    }
}

impl KvElement for f16 {
    #[cfg(target_arch = "x86_64")]
    const SIMD: Option<SimdKernels<f16>> = Some(SimdKernels {
        scores: crate::arch::avx2::attention::scores_f16,
        weighted_sum: crate::arch::avx2::attention::weighted_sum_f16,
    });
    #[cfg(target_arch = "aarch64")]
    const SIMD: Option<SimdKernels<f16>> = Some(SimdKernels {
        scores: crate::arch::neon::attention::scores_f16,
        weighted_sum: crate::arch::neon::attention::weighted_sum_f16,
    });
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    const SIMD: Option<SimdKernels<f16>> = None;

    fn rows_f32(x: &[f16], rows: usize, width: usize, ld: usize) -> (Cow<'_, [f32]>, usize) {
        let mut out = vec![0f32; rows * width];
        for (r, o) in out.chunks_exact_mut(width).enumerate() {
            half::slice::HalfFloatSliceExt::convert_to_f32_slice(&x[r * ld..r * ld + width], o);
        }
        (Cow::Owned(out), width)
    }

    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}
