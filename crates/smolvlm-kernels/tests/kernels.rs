//! Every kernel against the dequantize-then-f32 result, on odd sizes, for every weight type and
//! every SIMD level this CPU runs (the portable one always).
//!
//! Two references: (1) the dequantized weights times the *quantized* activations, in f64 — the
//! kernels must match it to float rounding (relative 1e-5 of Σ|w·x|); (2) the dequantized weights
//! times the original f32 activations — the 8-bit activation rounding (≤ half a step of
//! max|x|/127 per element) bounds the difference by Σ|w|·max|x|/254 per 32-block.

use rand::{RngExt, SeedableRng, rngs::StdRng};
use smolvlm_kernels::act::{quantize_q8, quantize_q8k};
use smolvlm_kernels::dot::{ActKind, act_kind};
use smolvlm_kernels::formats::ALL_TYPES;
use smolvlm_kernels::gemm::{BMatrix, Precision, gemm_at};
use smolvlm_kernels::{QWeight, SimdLevel, WeightType, dequantize_row};

/// Byte offsets of the f16 scales in a block (random bytes there could be NaN or huge).
fn scale_offsets(ty: WeightType) -> &'static [usize] {
    use WeightType::*;
    match ty {
        Q4_0 | Q5_0 | Q8_0 => &[0],
        Q4_1 | Q5_1 | Q4K | Q5K => &[0, 2],
        Q6K => &[208],
        F32 | F16 | BF16 => &[],
    }
}

fn random_weights(ty: WeightType, rows: usize, cols: usize, rng: &mut StdRng) -> Vec<u8> {
    let bytes = rows * ty.row_bytes(cols).unwrap();
    let mut data: Vec<u8> = (0..bytes).map(|_| rng.random()).collect();
    for block in data.chunks_exact_mut(ty.block_bytes()) {
        for (k, &off) in scale_offsets(ty).iter().enumerate() {
            let v: f32 = rng.random_range(0.001..0.05) * if k == 1 { -1.0 } else { 1.0 };
            block[off..off + 2].copy_from_slice(&half::f16::from_f32(v).to_bits().to_le_bytes());
        }
    }
    data
}

fn dequantized_acts(ty: WeightType, x: &[f32]) -> Vec<f32> {
    match act_kind(ty).unwrap() {
        ActKind::Q8 => {
            let mut b = Vec::new();
            quantize_q8(x, &mut b);
            b.iter()
                .flat_map(|b| b.q.iter().map(move |&q| q as f32 * b.d))
                .collect()
        }
        ActKind::Q8K => {
            let mut b = Vec::new();
            quantize_q8k(x, &mut b);
            b.iter()
                .flat_map(|b| b.q.iter().map(move |&q| q as f32 * b.d))
                .collect()
        }
    }
}

#[test]
fn every_kernel_matches_dequantized_reference() {
    let mut rng = StdRng::seed_from_u64(7);
    let quantized: Vec<WeightType> = ALL_TYPES.into_iter().filter(|t| t.is_quantized()).collect();
    for &ty in &quantized {
        let bl = ty.block_len();
        for &(rows, blocks) in &[(1, 1), (3, 3), (17, 1), (33, 5), (40, 2)] {
            let cols = blocks * bl;
            let data = random_weights(ty, rows, cols, &mut rng);
            let mut w = vec![0f32; rows * cols];
            for (r, out) in w.chunks_exact_mut(cols).enumerate() {
                let rb = ty.row_bytes(cols).unwrap();
                dequantize_row(ty, &data[r * rb..(r + 1) * rb], out);
            }
            for &m in &[1usize, 2, 9] {
                let x: Vec<f32> = (0..m * cols).map(|_| rng.random_range(-2.0..2.0)).collect();
                for level in SimdLevel::available() {
                    let q = QWeight::with_level(
                        ty,
                        rows,
                        cols,
                        std::sync::Arc::new(data.clone()),
                        0,
                        level,
                    )
                    .unwrap();
                    let mut y = vec![0f32; m * rows];
                    q.matmul(&x, &mut y);
                    for j in 0..m {
                        let xr = &x[j * cols..(j + 1) * cols];
                        let xq = dequantized_acts(ty, xr);
                        let xmax = xr.iter().fold(0f32, |a, v| a.max(v.abs()));
                        for r in 0..rows {
                            let wr = &w[r * cols..(r + 1) * cols];
                            let exact: f64 =
                                wr.iter().zip(&xq).map(|(&a, &b)| a as f64 * b as f64).sum();
                            let plain: f64 =
                                wr.iter().zip(xr).map(|(&a, &b)| a as f64 * b as f64).sum();
                            let mag: f64 = wr
                                .iter()
                                .zip(xr)
                                .map(|(&a, &b)| (a as f64 * b as f64).abs())
                                .sum();
                            let wsum: f64 = wr.iter().map(|&a| a.abs() as f64).sum();
                            let got = y[j * rows + r] as f64;
                            let what = format!(
                                "{} {}×{} m={m} row {r} act {j} at {}",
                                ty.name(),
                                rows,
                                cols,
                                level.name()
                            );
                            assert!(
                                (got - exact).abs() <= 1e-5 * mag + 1e-6,
                                "{what}: {got} vs exact {exact}"
                            );
                            let bound = wsum * xmax as f64 / 254.0 * 1.01 + 1e-6;
                            assert!(
                                (got - plain).abs() <= bound,
                                "{what}: {got} vs f32 {plain} (bound {bound})"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let mut rng = StdRng::seed_from_u64(11);
    let (rows, cols, m) = (67, 512, 5);
    for ty in [WeightType::Q4_1, WeightType::Q6K] {
        let data = random_weights(ty, rows, cols, &mut rng);
        let q = QWeight::from_vec(ty, rows, cols, data).unwrap();
        let x: Vec<f32> = (0..m * cols).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut results = Vec::new();
        for threads in [1, 2, 3] {
            smolvlm_kernels::threads::set(threads);
            let mut y = vec![0f32; m * rows];
            q.matmul(&x, &mut y);
            results.push(y);
        }
        smolvlm_kernels::threads::set(0);
        assert_eq!(results[0], results[1], "{}", ty.name());
        assert_eq!(results[0], results[2], "{}", ty.name());
    }
}

/// A prompt's rows multiplied together (several per kernel call) give each row exactly what it
/// gets alone (a decode step): prefill and decode share numerics.
#[test]
fn rows_multiplied_together_equal_each_row_alone() {
    let mut rng = StdRng::seed_from_u64(13);
    let quantized: Vec<WeightType> = ALL_TYPES.into_iter().filter(|t| t.is_quantized()).collect();
    for &ty in &quantized {
        let (rows, cols, m) = (35, 2 * ty.block_len(), 11);
        let data = random_weights(ty, rows, cols, &mut rng);
        let x: Vec<f32> = (0..m * cols).map(|_| rng.random_range(-2.0..2.0)).collect();
        for level in SimdLevel::available() {
            let q =
                QWeight::with_level(ty, rows, cols, std::sync::Arc::new(data.clone()), 0, level)
                    .unwrap();
            let mut together = vec![0f32; m * rows];
            q.matmul(&x, &mut together);
            for j in 0..m {
                let mut alone = vec![0f32; rows];
                q.matmul(&x[j * cols..(j + 1) * cols], &mut alone);
                assert_eq!(
                    &together[j * rows..(j + 1) * rows],
                    &alone[..],
                    "{} row {j} at {}",
                    ty.name(),
                    level.name()
                );
            }
        }
    }
}

#[test]
fn bad_shapes_are_errors() {
    let e = QWeight::from_vec(WeightType::Q8_0, 2, 33, vec![0; 100]).unwrap_err();
    assert!(e.to_string().contains("whole number"), "{e}");
    let e = QWeight::from_vec(WeightType::Q8_0, 2, 32, vec![0; 67]).unwrap_err();
    assert!(e.to_string().contains("needs 68 bytes"), "{e}");
    let e = QWeight::from_vec(WeightType::F16, 2, 32, vec![0; 128]).unwrap_err();
    assert!(e.to_string().contains("no quantized kernel"), "{e}");
}

#[test]
fn gemm_with_quantized_b_equals_gemm_with_its_dequantized_matrix() {
    let mut rng = StdRng::seed_from_u64(9);
    let (m, n, k) = (37, 45, 512);
    let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
    for ty in ALL_TYPES.into_iter().filter(|t| t.is_quantized()) {
        let w = QWeight::from_vec(ty, n, k, random_weights(ty, n, k, &mut rng)).unwrap();
        let dense = w.dequantize();
        for level in SimdLevel::available() {
            for precision in [Precision::F32, Precision::SplitBf16] {
                let mut got = vec![0f32; m * n];
                let b = BMatrix::Quantized(&w);
                gemm_at(level, precision, m, n, k, &a, k, b, &mut got, n);
                let mut want = vec![0f32; m * n];
                let b = BMatrix::Nk {
                    data: &dense,
                    ld: k,
                };
                gemm_at(level, precision, m, n, k, &a, k, b, &mut want, n);
                let what = format!("{} {} {precision:?}", ty.name(), level.name());
                assert_eq!(got, want, "{what}");
            }
        }
    }
}

/// Embedding lookups and GEMM panels read rows back from whatever layout the weights were given
/// at load (re-laid out 16 rows at a time on AVX-512 VNNI machines): every row must equal the
/// file's dequantization exactly, including rows of a last, partial group.
#[test]
fn rows_read_back_equal_the_files_dequantization_at_every_level() {
    let mut rng = StdRng::seed_from_u64(13);
    for ty in ALL_TYPES.into_iter().filter(|t| t.is_quantized()) {
        for &(rows, blocks) in &[(1, 1), (16, 2), (35, 3)] {
            let cols = blocks * ty.block_len();
            let data = random_weights(ty, rows, cols, &mut rng);
            let rb = ty.row_bytes(cols).unwrap();
            for level in SimdLevel::available() {
                let shared = std::sync::Arc::new(data.clone());
                let q = QWeight::with_level(ty, rows, cols, shared, 0, level).unwrap();
                // No layout costs more than 3 % over the file's blocks (plus padding rows):
                // Q4_K/Q5_K keep their 6-bit scales and mins a byte each.
                let bytes = q.bytes();
                let padded = rows.div_ceil(16) * 16 * rb;
                assert!(
                    bytes >= rows * rb && bytes * 100 <= padded * 103,
                    "{}: {bytes}",
                    ty.name()
                );
                // The file's row r, and whether `got` is it to the bit.
                let is_row = |r: usize, got: &[f32]| {
                    let mut want = vec![0f32; cols];
                    dequantize_row(ty, &data[r * rb..(r + 1) * rb], &mut want);
                    got.iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits())
                };
                let mut got = vec![0f32; cols];
                for r in 0..rows {
                    q.dequantize_row(r, &mut got);
                    let what = format!("{} {rows}×{cols} row {r} at {}", ty.name(), level.name());
                    assert!(is_row(r, &got), "{what}");
                }
                // Runs of rows (GEMM panels), aligned to groups or not.
                for (r0, n) in [(0, rows), (rows / 2, rows - rows / 2), (rows - 1, 1)] {
                    let mut run = vec![f32::NAN; n * cols];
                    q.dequantize_rows(r0, n, &mut run);
                    for (i, got) in run.chunks_exact(cols).enumerate() {
                        let r = r0 + i;
                        let what =
                            format!("{} rows {r0}+{n}: row {r} at {}", ty.name(), level.name());
                        assert!(is_row(r, got), "{what}");
                    }
                }
            }
        }
    }
}

/// A layer's q/k/v (or gate/up) in one pass equals the three products one by one, bit for bit,
/// also when the weights mix formats that read differently quantized activations.
#[test]
fn several_weights_in_one_pass_equal_separate_products() {
    let mut rng = StdRng::seed_from_u64(17);
    let cols = 512;
    let types = [WeightType::Q5_0, WeightType::Q6K, WeightType::Q8_0];
    let rows = [48, 21, 35];
    let weights: Vec<QWeight> = types
        .iter()
        .zip(rows)
        .map(|(&ty, r)| {
            QWeight::from_vec(ty, r, cols, random_weights(ty, r, cols, &mut rng)).unwrap()
        })
        .collect();
    let refs: Vec<&QWeight> = weights.iter().collect();
    let total: usize = rows.iter().sum();
    for m in [1usize, 3, 15] {
        let x: Vec<f32> = (0..m * cols).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut fused = vec![f32::NAN; m * total];
        smolvlm_kernels::matmul_many(&refs, &x, &mut fused);
        let mut col = 0;
        for w in &weights {
            let mut y = vec![0f32; m * w.rows()];
            w.matmul(&x, &mut y);
            for j in 0..m {
                let got = &fused[j * total + col..j * total + col + w.rows()];
                assert_eq!(
                    got,
                    &y[j * w.rows()..(j + 1) * w.rows()],
                    "{w:?} m={m} row {j}"
                );
            }
            col += w.rows();
        }
    }
}
