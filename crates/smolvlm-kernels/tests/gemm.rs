//! The f32 GEMM, fused attention and vector math against plain f64 loops, at every SIMD level
//! this CPU has, on sizes that are no multiple of any kernel's block (edges are where packed
//! kernels go wrong).
//!
//! Tolerances: GEMM and attention outputs within 1e-5 × Σ|aᵢ·bᵢ| of the f64 result (f32
//! accumulation over k terms in a different order); softmax within 1e-6 absolute, GELU within
//! 2e-6 × max(1, |x|) (the vector exp is within 2 ulp).

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use smolvlm_kernels::SimdLevel;
use smolvlm_kernels::attention::{AttentionShape, Strides, attention};
use smolvlm_kernels::gemm::{
    BMatrix, PackedB, Precision, gemm, gemm_at, gemm_packed, gemm_packed_serial,
};
use smolvlm_kernels::vmath::{gelu_tanh_at, silu_mul_at, softmax_scaled_at};

fn random(rng: &mut StdRng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// C = A·B in f64 with the bound Σ|a||b| per element; `b(p, j)` reads B.
fn reference(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: impl Fn(usize, usize) -> f32,
) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(m * n);
    for i in 0..m {
        for j in 0..n {
            let (mut s, mut mag) = (0f64, 0f64);
            for p in 0..k {
                let t = a[i * lda + p] as f64 * b(p, j) as f64;
                s += t;
                mag += t.abs();
            }
            out.push((s, mag));
        }
    }
    out
}

/// The bound of a product of `precision` at `level`, relative to Σ|aᵢ·bᵢ|: f32 sums in any
/// order; split bf16 adds at most 3·2⁻¹⁶ per term (each operand's split leaves 2⁻¹⁶ of it, the
/// dropped lo·lo term 2⁻¹⁶ of the product).
fn tolerance(level: SimdLevel, precision: Precision) -> f64 {
    if precision == Precision::SplitBf16 && level >= SimdLevel::Amx {
        1e-5 + 3.0 * 2f64.powi(-16)
    } else {
        1e-5
    }
}

fn assert_close(got: &[f32], ldc: usize, n: usize, want: &[(f64, f64)], what: &str) {
    assert_within(1e-5, got, ldc, n, want, what)
}

fn assert_within(tol: f64, got: &[f32], ldc: usize, n: usize, want: &[(f64, f64)], what: &str) {
    for (idx, &(w, mag)) in want.iter().enumerate() {
        let (i, j) = (idx / n, idx % n);
        let g = got[i * ldc + j] as f64;
        assert!(
            (g - w).abs() <= tol * mag.max(1e-3),
            "{what}: C[{i},{j}] = {g}, want {w} (Σ|ab| {mag})"
        );
    }
}

#[test]
fn gemm_matches_f64_on_odd_shapes_and_strides() {
    let mut rng = StdRng::seed_from_u64(7);
    for level in SimdLevel::available() {
        for &(m, n, k) in &[
            (1, 1, 1),
            (1, 33, 7),
            (13, 17, 255),
            (14, 32, 256),
            (15, 31, 257),
            (29, 70, 300),
            (100, 65, 513),
            // Large enough to be split into tasks on the pool.
            (130, 300, 96),
        ] {
            let (lda, ldc) = (k + 3, n + 5);
            let a = random(&mut rng, m * lda);
            let bnk = random(&mut rng, n * k);
            let bkn = random(&mut rng, k * (n + 2));
            let want_nk = reference(m, n, k, &a, lda, |p, j| bnk[j * k + p]);
            let want_kn = reference(m, n, k, &a, lda, |p, j| bkn[p * (n + 2) + j]);
            for (b, want, name) in [
                (BMatrix::Nk { data: &bnk, ld: k }, &want_nk, "n×k"),
                (
                    BMatrix::Kn {
                        data: &bkn,
                        ld: n + 2,
                    },
                    &want_kn,
                    "k×n",
                ),
            ] {
                for precision in [Precision::F32, Precision::SplitBf16] {
                    let what = format!("{} {precision:?} {m}×{n}×{k} B {name}", level.name());
                    let mut c = vec![f32::NAN; m * ldc];
                    gemm_at(level, precision, m, n, k, &a, lda, b, &mut c, ldc);
                    assert_within(tolerance(level, precision), &c, ldc, n, want, &what);
                    // Padding between rows of C is never written.
                    for i in 0..m {
                        assert!(
                            c[i * ldc + n..(i + 1) * ldc].iter().all(|v| v.is_nan()),
                            "{what}: wrote past n"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn prepacked_and_partial_products_match_the_one_off_product() {
    let mut rng = StdRng::seed_from_u64(8);
    let (m, n, k) = (57, 129, 200);
    let a = random(&mut rng, m * k);
    let b = random(&mut rng, n * k);
    let mut once = vec![0f32; m * n];
    gemm(
        Precision::F32,
        m,
        n,
        k,
        &a,
        k,
        BMatrix::Nk { data: &b, ld: k },
        &mut once,
        n,
    );
    let packed = PackedB::new(n, k, BMatrix::Nk { data: &b, ld: k });
    let mut pre = vec![0f32; m * n];
    gemm_packed(m, &a, k, &packed, None, &mut pre, n);
    assert_eq!(once, pre, "same blocking, same sums");
    // A bias is added to every row, on f32 panels and on tiles alike.
    let bias = random(&mut rng, n);
    for precision in [Precision::F32, Precision::SplitBf16] {
        let packed = PackedB::with_precision(n, k, BMatrix::Nk { data: &b, ld: k }, precision);
        let (mut plain, mut biased) = (vec![0f32; m * n], vec![0f32; m * n]);
        gemm_packed(m, &a, k, &packed, None, &mut plain, n);
        gemm_packed(m, &a, k, &packed, Some(&bias), &mut biased, n);
        for (i, (p, q)) in plain.iter().zip(&biased).enumerate() {
            assert_eq!(p + bias[i % n], *q, "{precision:?} bias at {i}");
        }
    }
    // The leading 70 columns over the leading 150 of k, as causal attention uses a packed K.
    let (n2, k2) = (70, 150);
    let mut part = vec![0f32; m * n2];
    // SAFETY: `part` is m rows of n2 floats at stride n2, owned here.
    unsafe { gemm_packed_serial(m, n2, k2, &a, k, &packed, part.as_mut_ptr(), n2) };
    let want = reference(m, n2, k2, &a, k, |p, j| b[j * k + p]);
    assert_close(&part, n2, n2, &want, "partial");
    if SimdLevel::detect() >= SimdLevel::Amx {
        let split = Precision::SplitBf16;
        let tiles = PackedB::with_precision(n, k, BMatrix::Nk { data: &b, ld: k }, split);
        let mut part = vec![0f32; m * n2];
        // SAFETY: as above.
        unsafe { gemm_packed_serial(m, n2, k2, &a, k, &tiles, part.as_mut_ptr(), n2) };
        let tol = tolerance(SimdLevel::Amx, split);
        assert_within(tol, &part, n2, n2, &want, "partial, tiles");
    }
}

/// Split bf16 on tiles does not hide overflow: a product with an infinite or NaN term is not
/// finite (an infinite hi times a zero lo is NaN, where f32 would give ±inf), and values next to
/// f32's largest do not overflow.
#[test]
fn split_products_keep_special_values() {
    if SimdLevel::detect() < SimdLevel::Amx {
        return;
    }
    let (m, n, k) = (4, 3, 40);
    let mut a = vec![0.5f32; m * k];
    a[k + 7] = f32::INFINITY;
    a[2 * k + 33] = f32::NAN;
    a[3 * k] = f32::MAX;
    let b = vec![0.25f32; n * k];
    let mut c = vec![0f32; m * n];
    let bm = BMatrix::Nk { data: &b, ld: k };
    gemm(Precision::SplitBf16, m, n, k, &a, k, bm, &mut c, n);
    for j in 0..n {
        assert_eq!(c[j], 0.5 * 0.25 * k as f32, "finite row");
        assert!(!c[n + j].is_finite(), "row with +inf");
        assert!(c[2 * n + j].is_nan(), "row with NaN");
        let want = f32::MAX as f64 * 0.25 + 0.125 * (k - 1) as f64;
        let rel = (c[3 * n + j] as f64 - want).abs() / want;
        assert!(rel < 1e-4, "row with f32::MAX: {} vs {want}", c[3 * n + j]);
    }
}

/// Attention in f64, tensors given as closures over (batch, token, head, d).
#[allow(clippy::too_many_arguments)]
fn attention_reference(
    s: &AttentionShape,
    q: impl Fn(usize, usize, usize, usize) -> f32,
    k: impl Fn(usize, usize, usize, usize) -> f32,
    v: impl Fn(usize, usize, usize, usize) -> f32,
) -> Vec<f64> {
    let group = s.heads / s.kv_heads;
    let mut out = vec![0f64; s.batch * s.q_len * s.heads * s.head_dim];
    for b in 0..s.batch {
        for h in 0..s.heads {
            for i in 0..s.q_len {
                let live = s.causal_offset.map_or(s.kv_len, |o| o + i + 1);
                let scores: Vec<f64> = (0..live)
                    .map(|t| {
                        (0..s.head_dim)
                            .map(|d| q(b, i, h, d) as f64 * k(b, t, h / group, d) as f64)
                            .sum::<f64>()
                            * s.scale as f64
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = scores.iter().map(|x| (x - max).exp()).collect();
                let sum: f64 = e.iter().sum();
                for d in 0..s.head_dim {
                    out[((b * s.q_len + i) * s.heads + h) * s.head_dim + d] = (0..live)
                        .map(|t| e[t] / sum * v(b, t, h / group, d) as f64)
                        .sum();
                }
            }
        }
    }
    out
}

#[test]
fn attention_matches_f64_for_vision_and_causal_layouts() {
    let mut rng = StdRng::seed_from_u64(10);
    for (batch, heads, kv_heads, hd, q_len, offset) in [
        // Vision: every query sees every key, tokens-major projections, two frames.
        (2, 3, 3, 16, 130, None),
        // A prompt after cached tokens, grouped queries, a KV cache laid out head-major.
        (1, 6, 2, 24, 117, Some(9)),
        // Decode-sized: a few queries read the cache in place.
        (1, 2, 1, 8, 1, Some(40)),
        (2, 6, 2, 24, 5, Some(3)),
        // Heads wider than one 64-float slice of accumulators, and not a multiple of 8.
        (1, 3, 1, 72, 2, Some(50)),
        (1, 2, 2, 20, 3, Some(6)),
    ] {
        let kv_len = offset.map_or(q_len, |o| o + q_len);
        let s = AttentionShape {
            batch,
            heads,
            kv_heads,
            head_dim: hd,
            q_len,
            kv_len,
            causal_offset: offset,
            scale: 1.0 / (hd as f32).sqrt(),
            precision: Precision::F32,
        };
        // Q and O: (batch, tokens, heads·hd); K and V: (batch, kv_heads, tokens, hd).
        let qs = Strides {
            batch: q_len * heads * hd,
            token: heads * hd,
            head: hd,
        };
        let kvs = Strides {
            batch: kv_heads * kv_len * hd,
            token: hd,
            head: kv_len * hd,
        };
        let q = random(&mut rng, batch * qs.batch);
        let k = random(&mut rng, batch * kvs.batch);
        let v = random(&mut rng, batch * kvs.batch);
        let at = |st: Strides| {
            move |b: usize, t: usize, h: usize, d: usize| {
                b * st.batch + t * st.token + h * st.head + d
            }
        };
        let want = attention_reference(
            &s,
            |b, t, h, d| q[at(qs)(b, t, h, d)],
            |b, t, h, d| k[at(kvs)(b, t, h, d)],
            |b, t, h, d| v[at(kvs)(b, t, h, d)],
        );
        let mut out = vec![f32::NAN; batch * qs.batch];
        // Split bf16 (on tiles where the CPU has them): scores off by up to 3·2⁻¹⁶ of
        // Σ|q·k|·scale (≲ 2, so ≲ 1e-4), which moves probabilities and then outputs (|v| ≤ 1) by
        // about as much, plus P·V's own 3·2⁻¹⁶.
        for (precision, tol) in [(Precision::F32, 1e-5), (Precision::SplitBf16, 3e-4)] {
            let s = AttentionShape { precision, ..s };
            attention(&s, &q, qs, &k, kvs, &v, kvs, &mut out, qs).unwrap();
            for (i, (&g, &w)) in out.iter().zip(&want).enumerate() {
                assert!(
                    (g as f64 - w).abs() <= tol,
                    "{s:?}: out[{i}] = {g}, want {w}"
                );
            }
        }
        // A half-precision KV cache: the same within float rounding of its own values.
        let half =
            |x: &[f32]| -> Vec<half::f16> { x.iter().map(|&v| half::f16::from_f32(v)).collect() };
        let (k16, v16) = (half(&k), half(&v));
        let want = attention_reference(
            &s,
            |b, t, h, d| q[at(qs)(b, t, h, d)],
            |b, t, h, d| k16[at(kvs)(b, t, h, d)].to_f32(),
            |b, t, h, d| v16[at(kvs)(b, t, h, d)].to_f32(),
        );
        attention(&s, &q, qs, &k16, kvs, &v16, kvs, &mut out, qs).unwrap();
        for (i, (&g, &w)) in out.iter().zip(&want).enumerate() {
            assert!(
                (g as f64 - w).abs() <= 1e-5,
                "f16 KV {s:?}: out[{i}] = {g}, want {w}"
            );
        }
    }
}

#[test]
fn attention_refuses_shapes_that_do_not_fit() {
    let s = AttentionShape {
        batch: 1,
        heads: 4,
        kv_heads: 3,
        head_dim: 8,
        q_len: 2,
        kv_len: 2,
        causal_offset: None,
        scale: 1.0,
        precision: Precision::F32,
    };
    let st = Strides {
        batch: 64,
        token: 32,
        head: 8,
    };
    let buf = vec![0f32; 64];
    let mut out = vec![0f32; 64];
    assert!(
        attention(&s, &buf, st, &buf, st, &buf, st, &mut out, st).is_err(),
        "4 heads over 3"
    );
    let s = AttentionShape {
        kv_heads: 4,
        q_len: 3,
        ..s
    };
    assert!(
        attention(&s, &buf, st, &buf, st, &buf, st, &mut out, st).is_err(),
        "Q too short"
    );
    let s = AttentionShape {
        q_len: 2,
        kv_len: 2,
        causal_offset: Some(1),
        ..s
    };
    assert!(
        attention(&s, &buf, st, &buf, st, &buf, st, &mut out, st).is_err(),
        "offset + q ≠ kv"
    );
}

#[test]
fn softmax_and_gelu_match_f64() {
    let mut rng = StdRng::seed_from_u64(11);
    for level in SimdLevel::available() {
        for len in [1, 15, 16, 17, 100, 1024] {
            let x: Vec<f32> = (0..len + 5)
                .map(|_| rng.random_range(-30.0f32..30.0))
                .collect();
            let scale = 0.37;
            let mut got = x.clone();
            softmax_scaled_at(level, &mut got, len, scale);
            let max = x[..len]
                .iter()
                .map(|&v| v as f64 * scale as f64)
                .fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = x[..len]
                .iter()
                .map(|&v| (v as f64 * scale as f64 - max).exp())
                .collect();
            let sum: f64 = e.iter().sum();
            for (i, &g) in got.iter().enumerate() {
                let w = if i < len { e[i] / sum } else { 0.0 };
                assert!(
                    (g as f64 - w).abs() <= 1e-6,
                    "{} softmax[{i}] of {len} = {g}, want {w}",
                    level.name()
                );
            }
        }
        let mut x: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.03).collect();
        x.extend([-200.0, -90.0, -10.0, 0.0, 1e-8, 10.0, 90.0, 200.0]);
        let mut got = x.clone();
        gelu_tanh_at(level, &mut got);
        for (&xi, &g) in x.iter().zip(&got) {
            let xd = xi as f64;
            let w = 0.5
                * xd
                * (1.0
                    + ((2.0 / std::f64::consts::PI).sqrt() * (xd + 0.044715 * xd.powi(3))).tanh());
            assert!(
                (g as f64 - w).abs() <= 2e-6 * xd.abs().max(1.0),
                "{} gelu({xi}) = {g}, want {w}",
                level.name()
            );
        }
    }
}

#[test]
fn silu_mul_matches_f64() {
    let mut rng = StdRng::seed_from_u64(12);
    let mut gate: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.05).collect();
    gate.extend([
        -200.0, -90.0, -88.5, -10.0, 0.0, 1e-8, 10.0, 88.5, 90.0, 200.0, 3.0,
    ]);
    let up: Vec<f32> = gate
        .iter()
        .map(|_| rng.random_range(-3.0f32..3.0))
        .collect();
    for level in SimdLevel::available() {
        let mut got = gate.clone();
        silu_mul_at(level, &mut got, &up);
        for ((&g, &u), &r) in gate.iter().zip(&up).zip(&got) {
            let (gd, ud) = (g as f64, u as f64);
            let want = gd / (1.0 + (-gd).exp()) * ud;
            assert!(
                (r as f64 - want).abs() <= 2e-6 * (gd * ud).abs().max(1.0),
                "{} silu({g})·{u} = {r}, want {want}",
                level.name()
            );
        }
    }
}
