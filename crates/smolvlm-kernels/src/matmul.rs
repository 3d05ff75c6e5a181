//! `y = x · Wᵀ` for a quantized weight matrix W (rows × cols, row-major in its block format) and
//! f32 activations x (m × cols): the activations are quantized to 8 bits once, then every output
//! is an integer dot product. Threads split the weight rows, so each reads its share of W once
//! per call whatever m is — at decode (m = 1) the product is bound by reading W.

use std::sync::Arc;

use crate::act::{Q8Block, Q8KBlock, quantize_q8, quantize_q8k};
use crate::dot::{Dot, SimdLevel, dot_for};
use crate::formats::WeightType;
use crate::interleaved::Interleaved;
use crate::pool::parallel;

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
}

impl std::fmt::Debug for QWeight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QWeight({} {}×{})", self.ty.name(), self.rows, self.cols)
    }
}

struct SendPtr(*mut f32);
// Safety: threads write disjoint elements through it, and the caller waits for all of them.
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// Safety: `i` in bounds of the buffer and written by one thread only.
    unsafe fn write(&self, i: usize, v: f32) {
        unsafe { *self.0.add(i) = v }
    }

    /// Safety: the range is in bounds and used by one thread only.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice(&self, start: usize, len: usize) -> &mut [f32] {
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
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
            if let Some(w) = Interleaved::new(ty, rows, cols, row) {
                return Ok(Self {
                    ty,
                    rows,
                    cols,
                    layout: Layout::Interleaved(Arc::new(w)),
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

    /// Whether the weights were re-laid out (and copied) at load, so that the bytes they were
    /// built from are no longer needed.
    pub fn is_relaid(&self) -> bool {
        matches!(self.layout, Layout::Interleaved(_))
    }

    /// Bytes the weights occupy.
    pub fn bytes(&self) -> usize {
        match &self.layout {
            Layout::Blocks { row_bytes, .. } => self.rows * row_bytes,
            Layout::Interleaved(w) => w.bytes(),
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
        }
    }

    /// The whole matrix as f32 (rows × cols), dequantized on every thread of the pool.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        let dst = SendPtr(out.as_mut_ptr());
        let (rows, cols) = (self.rows, self.cols);
        const ROWS: usize = 64;
        parallel(rows.div_ceil(ROWS), &|c| {
            for r in c * ROWS..((c + 1) * ROWS).min(rows) {
                // Safety: each chunk writes its own rows of `out`, which outlives the call.
                let row = unsafe { dst.slice(r * cols, cols) };
                self.dequantize_row(r, row);
            }
        });
        out
    }

    /// `y (m × rows) = x (m × cols) · Wᵀ`.
    pub fn matmul(&self, x: &[f32], y: &mut [f32]) {
        assert!(
            x.len().is_multiple_of(self.cols) && y.len() == x.len() / self.cols * self.rows,
            "matmul of {:?} with {} inputs into {} outputs",
            self,
            x.len(),
            y.len()
        );
        let m = x.len() / self.cols;
        let (row_bytes, data, dot) = match &self.layout {
            Layout::Interleaved(w) => {
                let acts = quantize_rows(x, self.cols, quantize_q8);
                return w.products(&acts, y);
            }
            Layout::Blocks {
                row_bytes,
                bytes,
                offset,
                dot,
            } => {
                let data = &(**bytes).as_ref()[*offset..offset + self.rows * row_bytes];
                (*row_bytes, data, *dot)
            }
        };
        let row = |r: usize| &data[r * row_bytes..(r + 1) * row_bytes];
        match dot {
            Dot::Q8(dot) => {
                let acts = quantize_rows(x, self.cols, quantize_q8);
                self.products(m, y, |r, j| dot(row(r), &acts[j]))
            }
            Dot::Q8K(dot) => {
                let acts = quantize_rows(x, self.cols, quantize_q8k);
                self.products(m, y, |r, j| dot(row(r), &acts[j]))
            }
        }
    }

    fn products(&self, m: usize, y: &mut [f32], dot: impl Fn(usize, usize) -> f32 + Sync) {
        let out = SendPtr(y.as_mut_ptr());
        let rows = self.rows;
        // Weight rows per tile: a tile (a few KiB) stays in L1 while every activation row passes.
        const TILE: usize = 16;
        parallel(rows.div_ceil(TILE), &|c| {
            let (r0, r1) = (c * TILE, ((c + 1) * TILE).min(rows));
            for j in 0..m {
                for r in r0..r1 {
                    let v = dot(r, j);
                    // Safety: (j, r) is written by this chunk only; y holds m × rows.
                    unsafe { out.write(j * rows + r, v) };
                }
            }
        });
    }
}

/// Quantizes each row of `x` (rows of `cols`), in parallel when there are many.
fn quantize_rows<B: Send + Sync>(
    x: &[f32],
    cols: usize,
    quantize: fn(&[f32], &mut Vec<B>),
) -> Vec<Vec<B>> {
    let m = x.len() / cols;
    if m < 8 {
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
