//! The checks in front of the raw-pointer kernels hold for every input a safe caller can pass:
//! strides whose extent overflows `usize` (which wrapped in a release build to a small number
//! that passed, then the kernels wrote far outside the buffers) are refused, and a SIMD level
//! the CPU lacks runs what the CPU has.

use std::sync::Arc;

use half::f16;
use smolvlm_kernels::act::quantize_q8;
use smolvlm_kernels::attention::{AttentionShape, KvElement, Strides, attention};
use smolvlm_kernels::dot::{Dot, dot_for};
use smolvlm_kernels::gemm::{BMatrix, PackedB, Precision, gemm, gemm_at, gemm_packed_at};
use smolvlm_kernels::vmath::{gelu_tanh_at, silu_mul_at, softmax_scaled_at};
use smolvlm_kernels::{QWeight, SharedBytes, SimdLevel, WeightType};

/// (m − 1) · stride = 2 · 2⁶³, which wraps to 0.
const HUGE: usize = 1 << 63;

#[test]
#[should_panic(expected = "gemm: C is not 3×1 with stride")]
fn gemm_refuses_a_c_stride_that_overflows() {
    let (a, b) = (vec![1f32; 3], vec![1f32; 1]);
    let mut c = vec![0f32; 1];
    let b = BMatrix::Nk { data: &b, ld: 1 };
    gemm(Precision::F32, 3, 1, 1, &a, 1, b, &mut c, HUGE);
}

#[test]
#[should_panic(expected = "gemm: A is not 3×1 with stride")]
fn gemm_refuses_an_a_stride_that_overflows() {
    let (a, b) = (vec![1f32; 1], vec![1f32; 1]);
    let mut c = vec![0f32; 3];
    let b = BMatrix::Nk { data: &b, ld: 1 };
    gemm(Precision::F32, 3, 1, 1, &a, HUGE, b, &mut c, 1);
}

#[test]
#[should_panic(expected = "gemm: B is not 3×1 with stride")]
fn packing_refuses_a_b_stride_that_overflows() {
    let b = vec![1f32; 1];
    PackedB::new(1, 3, BMatrix::Kn { data: &b, ld: HUGE });
}

#[test]
fn attention_refuses_strides_that_overflow() {
    let s = AttentionShape {
        batch: 3,
        heads: 1,
        kv_heads: 1,
        head_dim: 1,
        q_len: 1,
        kv_len: 1,
        causal_offset: None,
        scale: 1.0,
        precision: Precision::F32,
    };
    let fine = Strides {
        batch: 1,
        token: 1,
        head: 1,
    };
    let wrapping = Strides {
        batch: HUGE,
        ..fine
    };
    let buf = vec![0f32; 3];
    let mut out = vec![0f32; 3];
    attention(&s, &buf, fine, &buf, fine, &buf, fine, &mut out, fine).unwrap();
    for which in 0..4 {
        let st = |i: usize| if i == which { wrapping } else { fine };
        let result = attention(&s, &buf, st(0), &buf, st(1), &buf, st(2), &mut out, st(3));
        let err = result.expect_err("a wrapping stride is refused");
        assert!(err.to_string().contains("does not fit"), "{err}");
    }
}

/// Output rows that share elements would be written by two tasks at once through one pointer.
#[test]
fn attention_refuses_output_rows_that_overlap() {
    let s = AttentionShape {
        batch: 2,
        heads: 2,
        kv_heads: 2,
        head_dim: 4,
        q_len: 20,
        kv_len: 20,
        causal_offset: None,
        scale: 1.0,
        precision: Precision::F32,
    };
    // (batch, tokens, heads × head_dim), as the engine lays them out.
    let dense = Strides {
        batch: 20 * 8,
        token: 8,
        head: 4,
    };
    let buf = vec![0.5f32; 2 * 20 * 8];
    let mut out = vec![0f32; 2 * 20 * 8];
    attention(&s, &buf, dense, &buf, dense, &buf, dense, &mut out, dense).unwrap();
    for overlapping in [
        Strides { head: 0, ..dense },
        Strides { batch: 0, ..dense },
        Strides { head: 2, ..dense },
        Strides { token: 4, ..dense },
    ] {
        let result = attention(
            &s,
            &buf,
            dense,
            &buf,
            dense,
            &buf,
            dense,
            &mut out,
            overlapping,
        );
        let err = result.expect_err("overlapping output rows are refused");
        assert!(
            err.to_string().contains("overlap"),
            "{overlapping:?}: {err}"
        );
    }
}

#[test]
#[should_panic(expected = "attention rows")]
fn key_rows_whose_extent_overflows_are_refused() {
    let q = [1f32; 2];
    let rows = [f16::ZERO; 2];
    let mut out = [0f32; 3];
    <f16 as KvElement>::scores(true, &q, &rows, HUGE, 3, &mut out);
}

#[test]
#[should_panic(expected = "attention rows")]
fn value_rows_whose_extent_overflows_are_refused() {
    let p = [1f32; 3];
    let rows = [0f32; 2];
    let mut out = [0f32; 2];
    <f32 as KvElement>::weighted_sum(true, &p, &rows, HUGE, &mut out);
}

/// Every level, the ones this CPU lacks included, gives what one of the CPU's own levels gives
/// in every function that takes a level: a level it cannot run is run as the best one it has,
/// so no caller's choice executes an instruction the CPU does not have.
#[test]
fn levels_this_cpu_lacks_run_as_the_ones_it_has() {
    let all = [
        SimdLevel::Scalar,
        SimdLevel::Neon,
        SimdLevel::Avx2,
        SimdLevel::Avx512,
        SimdLevel::Amx,
    ];
    let x: Vec<f32> = (0..64).map(|i| (i as f32 - 30.0) / 7.0).collect();
    // 32 rows of 64 Q8_0 weights: f16 scale 1/64, then codes.
    let mut weights = Vec::new();
    for r in 0..64u32 {
        weights.extend_from_slice(&f16::from_f32(1.0 / 64.0).to_bits().to_le_bytes());
        weights.extend((0..32u32).map(|k| ((r * 7 + k * 3) % 41) as u8 ^ 0x80));
    }
    let shared: SharedBytes = Arc::new(weights.clone());
    let mut acts = Vec::new();
    quantize_q8(&x, &mut acts);
    let run = |level: SimdLevel| {
        let mut soft = x.clone();
        softmax_scaled_at(level, &mut soft, 30, 0.5);
        let mut gelu = x.clone();
        gelu_tanh_at(level, &mut gelu);
        let mut gate = x.clone();
        silu_mul_at(level, &mut gate, &x);
        let Some(Dot::Q8(dot)) = dot_for(WeightType::Q8_0, level) else {
            panic!("Q8_0 has a dot product");
        };
        let dots = vec![dot(&weights[..68], &acts)];
        let w = QWeight::with_level(WeightType::Q8_0, 32, 64, shared.clone(), 0, level).unwrap();
        let mut product = vec![0f32; 32];
        w.matmul(&x, &mut product);
        let b = BMatrix::Nk { data: &x, ld: 8 };
        let packed = PackedB::new_at(level, 8, 8, b, Precision::SplitBf16);
        let mut c = vec![0f32; 64];
        gemm_packed_at(level, 8, &x, 8, &packed, None, &mut c, 8);
        let mut one_off = vec![0f32; 64];
        gemm_at(
            level,
            Precision::SplitBf16,
            8,
            8,
            8,
            &x,
            8,
            b,
            &mut one_off,
            8,
        );
        [soft, gelu, gate, dots, product, c, one_off]
    };
    let reference: Vec<_> = SimdLevel::available().into_iter().map(run).collect();
    for level in all {
        let got = run(level);
        assert!(
            reference.contains(&got),
            "{level:?} matches no level this CPU runs"
        );
    }
}
