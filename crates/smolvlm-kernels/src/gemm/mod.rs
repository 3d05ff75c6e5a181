//! f32 matrix products for batches — prompts, image tiles, attention — near the CPU's FMA rate:
//! `C (m × n) = A (m × k) · B`, with B a weight matrix stored n × k (a linear layer's `x · Wᵀ`,
//! f32 or any quantized type, dequantized while it is packed), or an f32 k × n matrix.
//!
//! B is packed into panels of [`PANEL`] columns, k-major ([`PackedB`]); dense weights are packed
//! once at load and kept only in that form. A is read in place: the micro-kernel broadcasts one
//! element of each of its rows per step and keeps a `rows × 32` block of C in registers (14 × 32
//! with AVX-512: 28 of the 32 vector registers). K is cut into blocks so a panel stays in L1
//! while the rows of a task pass over it. candle's GEMM (the `gemm` crate) has no AVX-512 path on
//! stable Rust, which halves the rate on CPUs that have it.
//!
//! A product of [`Precision::SplitBf16`] runs on AMX tiles where the CPU has them (`amx`): for
//! weights that are f16, bf16 or quantized, whose own rounding dwarfs the split's.

#[cfg(target_arch = "x86_64")]
pub(crate) mod amx;
mod kernels;

use std::cell::RefCell;

use crate::dot::SimdLevel;
use crate::matmul::QWeight;
use crate::pool::parallel;
use kernels::{Kernel, KernelFn};

/// Columns of a packed panel, for every kernel (the 16-wide ones take half a panel per call).
pub const PANEL: usize = 32;

/// How a product may round its operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// f32 multiply-adds: transformers' numerics, to the order of summation.
    #[default]
    F32,
    /// Both operands split into bf16 halves and multiplied on AMX tiles (relative error ~2⁻¹⁶
    /// per product, see `amx`) where [`SimdLevel::Amx`] is available; [`Precision::F32`]
    /// elsewhere. For weights that are f16, bf16 or quantized, and attention over them.
    SplitBf16,
}

impl Precision {
    /// Whether products of this precision run on tiles at `level`.
    pub(crate) fn tiles_at(self, level: SimdLevel) -> bool {
        #[cfg(target_arch = "x86_64")]
        return self == Precision::SplitBf16 && level >= SimdLevel::Amx && amx::usable();
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = level;
            false
        }
    }
}

/// The right-hand matrix of a product, before packing.
#[derive(Clone, Copy)]
pub enum BMatrix<'a> {
    /// n × k, row j at `data[j * ld..]`: linear weights (`x · Wᵀ`), or attention's keys (`Q · Kᵀ`).
    Nk { data: &'a [f32], ld: usize },
    /// k × n, row p at `data[p * ld..]`: attention's values (`P · V`).
    Kn { data: &'a [f32], ld: usize },
    /// A quantized n × k weight, dequantized row by row while packing.
    Quantized(&'a QWeight),
}

/// K is taken in blocks of this many: a panel block (KC × 32 f32, 32 KiB) then stays in L1.
const KC: usize = 256;
/// The stride of a task's copy of A's rows: KC + 16, so rows do not share L1 sets (see
/// `run_task`).
const A_STRIDE: usize = KC + 16;
/// Rows of A per task.
const MC: usize = 112;
/// Tasks per thread a product is cut into, at least: enough for the shared chunk counter to even
/// out threads the OS schedules late.
const TASKS_PER_THREAD: usize = 4;
/// Below this many multiply-adds a product runs on the calling thread alone.
const SERIAL_BELOW: usize = 1 << 18;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Align64([f32; 16]);

/// A growable f32 buffer aligned to 64 bytes, so panels load as aligned vectors.
#[derive(Default, Clone)]
struct Aligned {
    blocks: Vec<Align64>,
    len: usize,
}

impl Aligned {
    fn resize(&mut self, len: usize) -> &mut [f32] {
        let blocks = len.div_ceil(16);
        if self.blocks.len() < blocks {
            self.blocks.resize(blocks, Align64([0.0; 16]));
        }
        self.len = len;
        self.as_mut_slice()
    }

    fn as_slice(&self) -> &[f32] {
        // Safety: `Align64` is 16 f32s without padding; the vector holds at least `len`.
        unsafe { std::slice::from_raw_parts(self.blocks.as_ptr().cast::<f32>(), self.len) }
    }

    fn as_mut_slice(&mut self) -> &mut [f32] {
        // Safety: as above.
        unsafe { std::slice::from_raw_parts_mut(self.blocks.as_mut_ptr().cast::<f32>(), self.len) }
    }
}

/// B packed for the kernels: panels of [`PANEL`] columns (zero past n), each k × 32 row-major
/// f32, or as AMX tiles.
#[derive(Default, Clone)]
pub struct PackedB {
    panels: Panels,
    precision: Precision,
    n: usize,
    k: usize,
}

#[derive(Clone)]
enum Panels {
    F32(Aligned),
    #[cfg(target_arch = "x86_64")]
    Tiles(amx::TileB),
}

impl Default for Panels {
    fn default() -> Self {
        Panels::F32(Aligned::default())
    }
}

impl std::fmt::Debug for PackedB {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedB({}×{})", self.n, self.k)
    }
}

/// A buffer's pointer shared by the tasks of one product (f32 panels and C, or tiles).
struct SendPtr<T = f32>(*mut T);
// Manual impls: a derive would require `T: Copy`, which the pointer does not need.
impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SendPtr<T> {}
// Safety: tasks write disjoint parts of the buffer, and the caller waits for all of them.
unsafe impl<T> Sync for SendPtr<T> {}
unsafe impl<T> Send for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// Through a method, so closures capture the `Sync` wrapper rather than its raw field.
    fn at(self, i: usize) -> *mut T {
        // Safety: callers stay inside the buffer the pointer came from.
        unsafe { self.0.add(i) }
    }
}

impl PackedB {
    /// Packs `b` (n × k as the product sees it) for f32 products, on the kernel thread pool.
    pub fn new(n: usize, k: usize, b: BMatrix<'_>) -> Self {
        Self::with_precision(n, k, b, Precision::F32)
    }

    /// Packs `b` for products of the given precision, on the kernel thread pool.
    pub fn with_precision(n: usize, k: usize, b: BMatrix<'_>, precision: Precision) -> Self {
        Self::new_at(SimdLevel::detect(), n, k, b, precision)
    }

    /// [`Self::with_precision`] for the kernels of `level` (tests compare levels).
    pub fn new_at(level: SimdLevel, n: usize, k: usize, b: BMatrix<'_>, p: Precision) -> Self {
        let mut packed = PackedB {
            precision: p,
            ..Default::default()
        };
        packed.repack(n, k, b, p.tiles_at(level), true);
        packed
    }

    /// [`Self::with_precision`] on the calling thread.
    pub fn new_serial(n: usize, k: usize, b: BMatrix<'_>, precision: Precision) -> Self {
        let mut packed = PackedB {
            precision,
            ..Default::default()
        };
        packed.repack(n, k, b, precision.tiles_at(SimdLevel::detect()), false);
        packed
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn k(&self) -> usize {
        self.k
    }

    /// The precision it was packed for.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        match &self.panels {
            Panels::F32(data) => data.len * 4,
            #[cfg(target_arch = "x86_64")]
            Panels::Tiles(tiles) => tiles.bytes(),
        }
    }

    /// Packs `b` into this buffer (as tiles, or f32 panels reusing its memory).
    fn repack(&mut self, n: usize, k: usize, b: BMatrix<'_>, tiles: bool, threaded: bool) {
        check_b(n, k, &b);
        self.n = n;
        self.k = k;
        #[cfg(target_arch = "x86_64")]
        if tiles {
            self.panels = Panels::Tiles(amx::TileB::pack(n, k, &b, threaded));
            return;
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = tiles;
        if !matches!(self.panels, Panels::F32(_)) {
            self.panels = Panels::default();
        }
        // Off x86 the tile variant does not exist and the pattern cannot fail.
        #[cfg_attr(not(target_arch = "x86_64"), allow(irrefutable_let_patterns))]
        let Panels::F32(data) = &mut self.panels else {
            unreachable!("set above")
        };
        let panels = n.div_ceil(PANEL);
        let out = SendPtr(data.resize(panels * k * PANEL).as_mut_ptr());
        let pack = |panel: usize| {
            // Safety: each panel writes its own k × PANEL range of the buffer.
            let dst =
                unsafe { std::slice::from_raw_parts_mut(out.at(panel * k * PANEL), k * PANEL) };
            pack_panel(dst, panel * PANEL, n, k, &b);
        };
        if threaded {
            parallel(panels, &pack);
        } else {
            (0..panels).for_each(pack);
        }
    }
}

/// Columns j0.. of B into one panel.
fn pack_panel(dst: &mut [f32], j0: usize, n: usize, k: usize, b: &BMatrix<'_>) {
    let cols = PANEL.min(n - j0);
    match *b {
        BMatrix::Nk { data, ld } => transpose(dst, cols, k, |jj| &data[(j0 + jj) * ld..][..k]),
        BMatrix::Kn { data, ld } => {
            for p in 0..k {
                dst[p * PANEL..p * PANEL + cols]
                    .copy_from_slice(&data[p * ld + j0..p * ld + j0 + cols]);
            }
        }
        BMatrix::Quantized(w) => {
            let mut rows = vec![0f32; cols * k];
            w.dequantize_rows(j0, cols, &mut rows);
            transpose(dst, cols, k, |jj| &rows[jj * k..(jj + 1) * k]);
        }
    }
    if cols < PANEL {
        for p in 0..k {
            dst[p * PANEL + cols..(p + 1) * PANEL].fill(0.0);
        }
    }
}

/// Rows of B (`row_of(jj)`, k long) into columns of a panel, a block of k at a time so the
/// block's panel rows stay in L1 while they fill.
fn transpose<'r>(dst: &mut [f32], cols: usize, k: usize, row_of: impl Fn(usize) -> &'r [f32]) {
    const KB: usize = 128;
    for p0 in (0..k).step_by(KB) {
        let p1 = (p0 + KB).min(k);
        for jj in 0..cols {
            for (p, &v) in row_of(jj)[p0..p1].iter().enumerate() {
                dst[(p0 + p) * PANEL + jj] = v;
            }
        }
    }
}

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
    let threaded = m * n * k >= SERIAL_BELOW;
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

/// [`gemm_packed`] with a given SIMD level.
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
        c: SendPtr(c.as_mut_ptr()),
        ldc,
        bias,
    };
    if m * n * k < SERIAL_BELOW {
        // Safety: one task covering C, whose extent `check_ac` verified.
        unsafe { run_task(kernel, 0..m, 0..n, k, a, lda, b, out) };
        return;
    }
    // Tiles take rows 32 at a time.
    let mc = match b.panels {
        #[cfg(target_arch = "x86_64")]
        Panels::Tiles(_) => amx::MC,
        _ => MC,
    };
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
        // Safety: each task writes its own block of C, inside the extent `check_ac` verified.
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
    // Safety: the caller's contract.
    let out = Out {
        c: SendPtr(c),
        ldc,
        bias: None,
    };
    unsafe { run_task(kernel, 0..m, 0..n, k, a, lda, b, out) };
}

fn extent(rows: usize, ld: usize, cols: usize) -> usize {
    if rows == 0 { 0 } else { (rows - 1) * ld + cols }
}

fn check_ac(m: usize, n: usize, k: usize, a: &[f32], lda: usize, c_len: usize, ldc: usize) {
    assert!(
        lda >= k && a.len() >= extent(m, lda, k),
        "gemm: A is not {m}×{k} with stride {lda}"
    );
    assert!(
        ldc >= n && c_len >= extent(m, ldc, n),
        "gemm: C is not {m}×{n} with stride {ldc}"
    );
}

fn check_b(n: usize, k: usize, b: &BMatrix<'_>) {
    match *b {
        BMatrix::Nk { data, ld } => {
            assert!(
                ld >= k && data.len() >= extent(n, ld, k),
                "gemm: B is not {n}×{k} with stride {ld}"
            )
        }
        BMatrix::Kn { data, ld } => {
            assert!(
                ld >= n && data.len() >= extent(k, ld, n),
                "gemm: B is not {k}×{n} with stride {ld}"
            )
        }
        BMatrix::Quantized(w) => {
            assert!(w.rows() == n && w.cols() == k, "gemm: {w:?} is not {n}×{k}")
        }
    }
}

/// Where a task writes: C at stride `ldc`, with `bias[j]` added to column j when given.
#[derive(Clone, Copy)]
struct Out<'a> {
    c: SendPtr,
    ldc: usize,
    bias: Option<&'a [f32]>,
}

impl Out<'_> {
    /// Adds the bias to C's block `rows × cols`.
    ///
    /// Safety: the block is the caller's, inside C.
    unsafe fn add_bias(&self, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>) {
        let Some(bias) = self.bias else { return };
        for i in rows {
            // Safety: the caller's contract.
            let row = unsafe {
                std::slice::from_raw_parts_mut(self.c.at(i * self.ldc + cols.start), cols.len())
            };
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
/// Safety: C (through `out`) holds the rows and columns given, and no other thread accesses
/// that block.
#[allow(clippy::too_many_arguments)]
unsafe fn run_task(
    kernel: Kernel,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
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
            // Safety: row i of the block is the caller's.
            unsafe {
                std::slice::from_raw_parts_mut(c.at(i * ldc + cols.start), cols.len()).fill(0.0)
            };
        }
        // Safety: as above.
        unsafe { out.add_bias(rows, cols) };
        return;
    }
    let packed = match &b.panels {
        Panels::F32(data) => data.as_slice(),
        // Safety: tiles are packed only where `amx::usable`; the rest is this function's
        // contract.
        #[cfg(target_arch = "x86_64")]
        Panels::Tiles(tiles) => {
            return unsafe { amx::run_task(rows, cols, k, a, lda, tiles, c, ldc, out.bias) };
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
                        // Safety: the panel holds kc × kr of A, the B panel kc rows, and the
                        // block of C is the task's.
                        unsafe { run(kc, ap, bp, c.at(c_at), ldc, live_cols, accumulate) };
                        continue;
                    }
                    // The kernel writes kr rows: into a scratch block, then the live ones.
                    edge.clear();
                    edge.resize(kr * nr, 0.0);
                    // Safety: the panel holds kr (zero-padded) rows, `edge` kr rows of C.
                    unsafe { run(kc, ap, bp, edge.as_mut_ptr(), nr, live_cols, false) };
                    for ii in 0..live {
                        // Safety: row ii of the block of C is the task's.
                        let out = unsafe {
                            std::slice::from_raw_parts_mut(c.at(c_at + ii * ldc), live_cols)
                        };
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
    // Safety: the block is the task's (this function's contract).
    unsafe { out.add_bias(rows, cols) };
}
