//! f32 matrix products for batches — prompts, image tiles, attention — near the CPU's FMA rate:
//! `C (m × n) = A (m × k) · B`, with B a weight matrix stored n × k (a linear layer's `x · Wᵀ`,
//! f32 or any quantized type, dequantized while it is packed), or an f32 k × n matrix.
//!
//! B is packed into panels of [`PANEL`] columns, k-major ([`PackedB`]); dense weights are packed
//! once at load and kept only in that form. A is read in place: the micro-kernel broadcasts one
//! element of each of its rows per step and keeps a `rows × 32` block of C in registers (14 × 32
//! with AVX-512: 28 of the 32 vector registers). K is cut into blocks so a panel stays in L1
//! while the rows of a task pass over it (`crate::common::gemm` has the sizes). candle's GEMM
//! (the `gemm` crate) has no AVX-512 path on stable Rust, which halves the rate on CPUs that
//! have it.
//!
//! Here: the entry points and the threading; `pack` (B's panels), `task` (one block of C),
//! `kernels` (which micro-kernel), `scalar` (the portable micro-kernel). The vector
//! micro-kernels live in `crate::arch`; what they share with these (the block sizes, the edge
//! store, the bf16 split of [`Precision::SplitBf16`]) in `crate::common`.
//!
//! A product of [`Precision::SplitBf16`] runs on AMX tiles where the CPU has them
//! (`crate::arch::amx`): for weights that are f16, bf16 or quantized, whose own rounding dwarfs
//! the split's.

mod kernels;
mod pack;
pub(crate) mod panel;
mod precision;
pub(crate) mod scalar;
mod task;

use std::cell::RefCell;

use crate::common::gemm::{MC, SERIAL_BELOW, TASKS_PER_THREAD};
use crate::cpu::SimdLevel;
use crate::pool::parallel;
use crate::send_ptr::SendPtr;
use kernels::Kernel;
#[cfg(target_arch = "x86_64")]
use pack::Panels;
use task::{Out, check_ac, run_task};

pub use crate::common::gemm::PANEL;
pub use pack::PackedB;
pub use panel::BMatrix;
pub use precision::Precision;

thread_local! {
    /// B packed for a one-off product ([`gemm`] with a [`BMatrix`]).
    static PACKED: RefCell<PackedB> = RefCell::new(PackedB::default());
}

/// `c[i * ldc + j] = Σₚ a[i * lda + p] · B[p, j]` for i < m, j < n, on the kernel thread pool.
///
/// Panics when a slice is too short for the shape (a caller's bug, not an input error).
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    precision: Precision,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: BMatrix<'_>,
    c: &mut [f32],
    ldc: usize,
) {
    gemm_at(SimdLevel::detect(), precision, m, n, k, a, lda, b, c, ldc)
}

/// [`gemm`] with a given SIMD level (tests compare levels).
#[allow(clippy::too_many_arguments)]
pub fn gemm_at(
    level: SimdLevel,
    precision: Precision,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: BMatrix<'_>,
    c: &mut [f32],
    ldc: usize,
) {
    let mut packed = PACKED.take();
    let threaded = m.saturating_mul(n).saturating_mul(k) >= SERIAL_BELOW;
    packed.precision = precision;
    packed.repack(n, k, b, precision.tiles_at(level), threaded);
    gemm_packed_at(level, m, a, lda, &packed, None, c, ldc);
    PACKED.set(packed);
}

/// `C = A · B (+ bias)` for a packed B, on the kernel thread pool: `bias[j]` (n long) is added
/// to column j as each task finishes its block, while the block is still in cache.
pub fn gemm_packed(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    bias: Option<&[f32]>,
    c: &mut [f32],
    ldc: usize,
) {
    gemm_packed_at(SimdLevel::detect(), m, a, lda, b, bias, c, ldc)
}

/// [`gemm_packed`] with a given SIMD level, one this CPU runs ([`SimdLevel::available`]).
#[allow(clippy::too_many_arguments)]
pub fn gemm_packed_at(
    level: SimdLevel,
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    bias: Option<&[f32]>,
    c: &mut [f32],
    ldc: usize,
) {
    let (n, k) = (b.n, b.k);
    check_ac(m, n, k, a, lda, c.len(), ldc);
    assert!(
        bias.is_none_or(|v| v.len() == n),
        "gemm: bias is not {n} long"
    );
    let kernel = Kernel::for_level(level);
    let out = Out {
        c: SendPtr::new(c.as_mut_ptr()),
        ldc,
        bias,
    };
    if m.saturating_mul(n).saturating_mul(k) < SERIAL_BELOW {
        // SAFETY: one task covering C, whose extent `check_ac` verified; `c` is borrowed
        // mutably for the call.
        unsafe { run_task(kernel, 0..m, 0..n, k, a, lda, b, out) };
        return;
    }
    // Tiles take rows 32 at a time.
    #[cfg(target_arch = "x86_64")]
    let mc = match b.panels {
        Panels::Tiles(_) => crate::arch::amx::MC,
        _ => MC,
    };
    #[cfg(not(target_arch = "x86_64"))]
    let mc = MC;
    let row_blocks = m.div_ceil(mc);
    // Whole rows of C per task where there are enough row blocks: a task copies its rows of A
    // once per K block, so the fewer column blocks, the less copying.
    let panels = n.div_ceil(PANEL);
    let want = TASKS_PER_THREAD * crate::threads::current();
    let col_blocks = want.div_ceil(row_blocks).clamp(1, panels);
    let task_cols = panels.div_ceil(col_blocks) * PANEL;
    let col_blocks = n.div_ceil(task_cols);
    parallel(row_blocks * col_blocks, &|t| {
        let (ib, jb) = (t / col_blocks, t % col_blocks);
        let rows = ib * mc..((ib + 1) * mc).min(m);
        let cols = jb * task_cols..((jb + 1) * task_cols).min(n);
        // SAFETY: each task writes its own block of C (tasks split rows and columns without
        // overlap), inside the extent `check_ac` verified; `c` stays borrowed until `parallel`
        // returns.
        unsafe { run_task(kernel, rows, cols, k, a, lda, b, out) };
    });
}

/// `C (m × n) = A (m × k) · B[..k, ..n]` for the leading k rows and n columns of a packed B, on
/// the calling thread, writing through a pointer: for callers whose tasks each write a disjoint
/// block of one buffer (attention), which none may hold as `&mut`.
///
/// # Safety
/// `c` points at `(m - 1) · ldc + n` writable floats that nothing else accesses during the call.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_packed_serial(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    c: *mut f32,
    ldc: usize,
) {
    assert!(n <= b.n && k <= b.k, "gemm: {n}×{k} of {b:?}");
    check_ac(m, n, k, a, lda, usize::MAX, ldc);
    let kernel = Kernel::for_level(SimdLevel::detect());
    let out = Out {
        c: SendPtr::new(c),
        ldc,
        bias: None,
    };
    // SAFETY: the block 0..m × 0..n is C, which the caller vouches for (this function's
    // contract); A was checked above.
    unsafe { run_task(kernel, 0..m, 0..n, k, a, lda, b, out) };
}
