//! `y = x · Wᵀ` for a quantized weight matrix W (rows × cols, row-major in its block format) and
//! f32 activations x (m × cols): the activations are quantized to 8 bits once, then every output
//! is an integer dot product. Threads split the weight rows, so each reads its share of W once
//! per call whatever m is — at decode (m = 1) the product is bound by reading W.

use std::sync::Arc;

use crate::act::{Q8Block, Q8KBlock, quantize_q8, quantize_q8k};
use crate::cpu::SimdLevel;
use crate::dot::{ActKind, Dot, dot_for};
use crate::formats::WeightType;
use crate::interleaved::{Interleaved, InterleavedK};
use crate::pool::parallel;
use crate::send_ptr::SendPtr;

/// Bytes a weight can live in: an owned buffer, or a memory-mapped file the weight is a range of.
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("{ty} weights of {rows}×{cols}: {reason}")]
    Shape {
        ty: &'static str,
        rows: usize,
        cols: usize,
        reason: String,
    },
    #[error("{0} weights have no quantized kernel")]
    NotQuantized(&'static str),
}

/// A quantized weight matrix with its kernel chosen for this CPU.
#[derive(Clone)]
pub struct QWeight {
    ty: WeightType,
    rows: usize,
    cols: usize,
    layout: Layout,
}

#[derive(Clone)]
enum Layout {
    /// The file's layout, read in place: rows of blocks, one dot product per row.
    Blocks {
        row_bytes: usize,
        bytes: SharedBytes,
        offset: usize,
        dot: Dot,
    },
    /// Re-laid out at load for AVX-512 VNNI, 16 rows at a time (`crate::interleaved`); the
    /// file's bytes are then no longer referenced.
    Interleaved(Arc<Interleaved>),
    /// The same for the k-quants.
    InterleavedK(Arc<InterleavedK>),
}

impl std::fmt::Debug for QWeight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QWeight({} {}×{})", self.ty.name(), self.rows, self.cols)
    }
}

impl QWeight {
    /// `rows × cols` weights of type `ty` at `bytes[offset..]`.
    pub fn new(
        ty: WeightType,
        rows: usize,
        cols: usize,
        bytes: SharedBytes,
        offset: usize,
    ) -> Result<Self, KernelError> {
        Self::with_level(ty, rows, cols, bytes, offset, SimdLevel::detect())
    }

    /// As [`Self::new`] with a given SIMD level (tests compare levels).
    pub fn with_level(
        ty: WeightType,
        rows: usize,
        cols: usize,
        bytes: SharedBytes,
        offset: usize,
        level: SimdLevel,
    ) -> Result<Self, KernelError> {
        let bad = |reason: String| KernelError::Shape {
            ty: ty.name(),
            rows,
            cols,
            reason,
        };
        let dot = dot_for(ty, level).ok_or(KernelError::NotQuantized(ty.name()))?;
        let row_bytes = ty.row_bytes(cols).ok_or_else(|| {
            bad(format!(
                "a row is not a whole number of {}-element blocks",
                ty.block_len()
            ))
        })?;
        let need = rows
            .checked_mul(row_bytes)
            .and_then(|n| n.checked_add(offset))
            .ok_or_else(|| bad("too large".into()))?;
        let have = (*bytes).as_ref().len();
        if need > have {
            return Err(bad(format!("needs {need} bytes, has {have}")));
        }
        if level >= SimdLevel::Avx512 && crate::interleaved::supported() {
            let data = &(*bytes).as_ref()[offset..need];
            let row = |r: usize| &data[r * row_bytes..(r + 1) * row_bytes];
            let layout = match Interleaved::new(ty, rows, cols, row) {
                Some(w) => Some(Layout::Interleaved(Arc::new(w))),
                None => InterleavedK::new(ty, rows, cols, row)
                    .map(|w| Layout::InterleavedK(Arc::new(w))),
            };
            if let Some(layout) = layout {
                return Ok(Self {
                    ty,
                    rows,
                    cols,
                    layout,
                });
            }
        }
        Ok(Self {
            ty,
            rows,
            cols,
            layout: Layout::Blocks {
                row_bytes,
                bytes,
                offset,
                dot,
            },
        })
    }

    pub fn from_vec(
        ty: WeightType,
        rows: usize,
        cols: usize,
        data: Vec<u8>,
    ) -> Result<Self, KernelError> {
        Self::new(ty, rows, cols, Arc::new(data), 0)
    }

    pub fn ty(&self) -> WeightType {
        self.ty
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Rows `r0..r0 + n` as f32 into `out` (n × cols): a GEMM panel of the weight.
    pub fn dequantize_rows(&self, r0: usize, n: usize, out: &mut [f32]) {
        assert!(
            r0.checked_add(n).is_some_and(|end| end <= self.rows)
                && n.checked_mul(self.cols) == Some(out.len()),
            "rows {r0}+{n} of {self:?}"
        );
        match &self.layout {
            Layout::Interleaved(w) => w.dequantize_rows(r0, n, out),
            Layout::InterleavedK(w) => w.dequantize_rows(r0, n, out),
            Layout::Blocks { .. } => {
                for (i, row) in out.chunks_exact_mut(self.cols).enumerate() {
                    self.dequantize_row(r0 + i, row);
                }
            }
        }
    }

    /// Whether the weights were re-laid out (and copied) at load, so that the bytes they were
    /// built from are no longer needed.
    pub fn is_relaid(&self) -> bool {
        !matches!(self.layout, Layout::Blocks { .. })
    }

    /// Whether a prompt's products (many activation rows) are fastest on the integer kernels
    /// too: the interleaved layout's kernels take several rows per pass over the weights, at
    /// 3–4× a GEMM over panels dequantized per product (`examples/prefill_bench.rs`), with the
    /// numerics of a decode step. Otherwise a GEMM over dequantized panels wins from a dozen rows.
    pub fn integer_prompts(&self) -> bool {
        self.is_relaid()
    }

    /// Bytes the weights occupy.
    pub fn bytes(&self) -> usize {
        match &self.layout {
            Layout::Blocks { row_bytes, .. } => self.rows * row_bytes,
            Layout::Interleaved(w) => w.bytes(),
            Layout::InterleavedK(w) => w.bytes(),
        }
    }

    /// Row `r` as f32 (an embedding lookup, a GEMM panel).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        match &self.layout {
            Layout::Blocks {
                row_bytes,
                bytes,
                offset,
                ..
            } => {
                let at = offset + r * row_bytes;
                let row = &(**bytes).as_ref()[at..at + row_bytes];
                crate::formats::dequantize_row(self.ty, row, out)
            }
            Layout::Interleaved(w) => w.dequantize_row(r, out),
            Layout::InterleavedK(w) => w.dequantize_row(r, out),
        }
    }

    /// The whole matrix as f32 (rows × cols), dequantized on every thread of the pool.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        let dst = SendPtr::new(out.as_mut_ptr());
        let (rows, cols) = (self.rows, self.cols);
        parallel(rows.div_ceil(DEQUANTIZE_ROWS), &|c| {
            for r in c * DEQUANTIZE_ROWS..((c + 1) * DEQUANTIZE_ROWS).min(rows) {
                // SAFETY: `out` is rows × cols, and each chunk writes only its own rows; `out`
                // outlives the parallel call.
                let row = unsafe { dst.slice_mut(r * cols, cols) };
                self.dequantize_row(r, row);
            }
        });
        out
    }

    /// `y (m × rows) = x (m × cols) · Wᵀ`.
    pub fn matmul(&self, x: &[f32], y: &mut [f32]) {
        matmul_many(&[self], x, y)
    }

    /// Units of work a product is cut into, each a few KiB of weights.
    fn chunks(&self) -> usize {
        match &self.layout {
            Layout::Blocks { .. } => self.rows.div_ceil(TILE),
            Layout::Interleaved(w) => w.chunks(),
            Layout::InterleavedK(w) => w.chunks(),
        }
    }

    /// Writes chunk `c` of the product: `out[j·ldy + r]` for this chunk's rows r.
    ///
    /// # Safety
    /// `out` holds `acts.rows` rows of `ldy ≥ self.rows` and nobody else accesses this chunk's
    /// elements during the call.
    unsafe fn run_chunk(&self, c: usize, acts: &Acts, out: SendPtr, ldy: usize) {
        let (row_bytes, bytes, offset, dot) = match &self.layout {
            Layout::Interleaved(w) => {
                let q8 = acts
                    .q8
                    .as_deref()
                    .expect("quantized for every weight's kind");
                // SAFETY: the caller's contract, passed on.
                return unsafe { w.run_chunk(c, q8, out, ldy) };
            }
            Layout::InterleavedK(w) => {
                let q8k = acts
                    .q8k
                    .as_deref()
                    .expect("quantized for every weight's kind");
                // SAFETY: the caller's contract, passed on.
                return unsafe { w.run_chunk(c, q8k, out, ldy) };
            }
            Layout::Blocks {
                row_bytes,
                bytes,
                offset,
                dot,
            } => (*row_bytes, bytes, *offset, *dot),
        };
        let data = (**bytes).as_ref();
        let row = |r: usize| &data[offset + r * row_bytes..offset + (r + 1) * row_bytes];
        let (r0, r1) = (c * TILE, ((c + 1) * TILE).min(self.rows));
        let m = acts.rows;
        for j in 0..m {
            for r in r0..r1 {
                let v = match dot {
                    Dot::Q8(dot) => dot(row(r), &acts.q8.as_deref().expect("quantized")[j]),
                    Dot::Q8K(dot) => dot(row(r), &acts.q8k.as_deref().expect("quantized")[j]),
                };
                // SAFETY: (j, r) is this chunk's, inside `out` (the caller's contract).
                unsafe { out.write(j * ldy + r, v) };
            }
        }
    }

    fn act_kind(&self) -> ActKind {
        match &self.layout {
            Layout::Interleaved(_) => ActKind::Q8,
            Layout::InterleavedK(_) => ActKind::Q8K,
            Layout::Blocks { dot, .. } => match dot {
                Dot::Q8(_) => ActKind::Q8,
                Dot::Q8K(_) => ActKind::Q8K,
            },
        }
    }
}

/// Weight rows per chunk in the file's layout: a tile (a few KiB) stays in L1 while every
/// activation row passes.
const TILE: usize = 16;
/// Rows per chunk of [`QWeight::dequantize`]: a few hundred KiB of output per chunk, so the
/// shared counter is asked rarely.
const DEQUANTIZE_ROWS: usize = 64;
/// Activation rows from which [`quantize_rows`] runs on the pool: below, waking the threads
/// costs more than quantizing a few rows.
const PARALLEL_QUANTIZE_FROM: usize = 8;

/// Activation rows quantized once for every weight of a product that reads them.
struct Acts {
    rows: usize,
    q8: Option<Vec<Vec<Q8Block>>>,
    q8k: Option<Vec<Vec<Q8KBlock>>>,
}

/// `x (m × cols)` times several weights of `cols` columns at once — a layer's q, k and v, or its
/// gate and up projections: the activations are quantized once and one parallel pass covers
/// every weight, so threads meet once instead of once per weight. `y` is `m × Σ rows`, weight
/// i's outputs in the columns after those of weights `..i`.
pub fn matmul_many(weights: &[&QWeight], x: &[f32], y: &mut [f32]) {
    let cols = weights.first().map_or(0, |w| w.cols);
    let total: usize = weights.iter().map(|w| w.rows).sum();
    assert!(
        cols > 0
            && weights.iter().all(|w| w.cols == cols)
            && x.len().is_multiple_of(cols)
            && y.len() == x.len() / cols * total,
        "matmul of {weights:?} with {} inputs into {} outputs",
        x.len(),
        y.len()
    );
    let needs = |kind: ActKind| weights.iter().any(|w| w.act_kind() == kind);
    let acts = Acts {
        rows: x.len() / cols,
        q8: needs(ActKind::Q8).then(|| quantize_rows(x, cols, quantize_q8)),
        q8k: needs(ActKind::Q8K).then(|| quantize_rows(x, cols, quantize_q8k)),
    };
    // Chunk c of the pass belongs to the weight whose range holds it.
    let mut starts = Vec::with_capacity(weights.len());
    let (mut chunks, mut col) = (0, 0);
    for w in weights {
        starts.push((chunks, col));
        chunks += w.chunks();
        col += w.rows;
    }
    let out = SendPtr::new(y.as_mut_ptr());
    parallel(chunks, &|c| {
        let i = starts.partition_point(|&(first, _)| first <= c) - 1;
        let (first, col) = starts[i];
        let shifted = out.wrapping_add(col);
        // SAFETY: y is m × total (asserted above); weight i writes only its own columns
        // col..col + rows (so `shifted` rows of `total` hold its outputs), and chunk c only its
        // rows of them; `y` outlives the parallel call.
        unsafe { weights[i].run_chunk(c - first, &acts, shifted, total) };
    });
}

/// Quantizes each row of `x` (rows of `cols`), in parallel when there are many.
fn quantize_rows<B: Send + Sync>(
    x: &[f32],
    cols: usize,
    quantize: fn(&[f32], &mut Vec<B>),
) -> Vec<Vec<B>> {
    let m = x.len() / cols;
    if m < PARALLEL_QUANTIZE_FROM {
        return x
            .chunks_exact(cols)
            .map(|row| {
                let mut v = Vec::new();
                quantize(row, &mut v);
                v
            })
            .collect();
    }
    let out: Vec<std::sync::Mutex<Vec<B>>> = (0..m).map(|_| Default::default()).collect();
    parallel(m, &|j| {
        let mut v = Vec::new();
        quantize(&x[j * cols..(j + 1) * cols], &mut v);
        *out[j].lock().unwrap_or_else(|e| e.into_inner()) = v;
    });
    out.into_iter()
        .map(|p| p.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn f<T: Send + Sync>() {}
    f::<QWeight>();
    f::<Q8Block>();
    f::<Q8KBlock>();
}
