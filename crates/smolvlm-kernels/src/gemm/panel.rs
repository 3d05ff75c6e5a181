//! The right-hand matrix of a product and the packing of one f32 panel of it, shared by the f32
//! panels ([`super::PackedB`]) and the AMX tiles (`crate::arch::amx`), which split it further.

use crate::common::gemm::{PANEL, TRANSPOSE_KB};
use crate::matmul::QWeight;

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

/// Where the last element of `rows` rows of `cols` at stride `ld` ends; `None` past `usize`.
/// Checked, not wrapping: these extents are what stand between a caller's shapes and the
/// kernels' raw pointers, and a wrapped one is small enough to pass.
pub(crate) fn extent(rows: usize, ld: usize, cols: usize) -> Option<usize> {
    match rows.checked_sub(1) {
        None => Some(0),
        Some(last) => last.checked_mul(ld)?.checked_add(cols),
    }
}

/// Whether `len` elements hold `rows` rows of `cols` at stride `ld`.
pub(crate) fn holds(len: usize, rows: usize, ld: usize, cols: usize) -> bool {
    extent(rows, ld, cols).is_some_and(|e| len >= e)
}

/// Panics unless `b` holds an n × k matrix (as the product sees it).
pub(crate) fn check_b(n: usize, k: usize, b: &BMatrix<'_>) {
    match *b {
        BMatrix::Nk { data, ld } => {
            assert!(
                ld >= k && holds(data.len(), n, ld, k),
                "gemm: B is not {n}×{k} with stride {ld}"
            )
        }
        BMatrix::Kn { data, ld } => {
            assert!(
                ld >= n && holds(data.len(), k, ld, n),
                "gemm: B is not {k}×{n} with stride {ld}"
            )
        }
        BMatrix::Quantized(w) => {
            assert!(w.rows() == n && w.cols() == k, "gemm: {w:?} is not {n}×{k}")
        }
    }
}

/// Columns j0.. of B into one panel (k × [`PANEL`] row-major, zero past n).
pub(crate) fn pack_panel(dst: &mut [f32], j0: usize, n: usize, k: usize, b: &BMatrix<'_>) {
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
    for p0 in (0..k).step_by(TRANSPOSE_KB) {
        let p1 = (p0 + TRANSPOSE_KB).min(k);
        for jj in 0..cols {
            for (p, &v) in row_of(jj)[p0..p1].iter().enumerate() {
                dst[(p0 + p) * PANEL + jj] = v;
            }
        }
    }
}
