//! GFLOP/s of the f32 GEMM at the vision tower's shapes (SigLIP-B/16 at 512²: 1024 patches,
//! 768 wide, MLP 3072): `cargo run --release -p smolvlm-kernels --example gemm_bench [threads]`.

use std::time::Instant;

use smolvlm_kernels::SimdLevel;
use smolvlm_kernels::attention::{AttentionShape, Strides, attention};
use smolvlm_kernels::gemm::{BMatrix, PackedB, Precision, gemm_packed_at};

fn main() {
    if let Some(t) = std::env::args().nth(1).and_then(|s| s.parse().ok()) {
        smolvlm_kernels::threads::set(t);
    }
    // `attention` as the second argument: only the attention part.
    let only_attention = std::env::args().nth(2).is_some_and(|a| a == "attention");
    if !only_attention {
        products();
    }
    attention_of_a_tile();
}

fn products() {
    // The kernels alone: B packed beforehand, blocks that stay in cache, one thread.
    let split = SimdLevel::detect() >= SimdLevel::Amx;
    for (m, n, k, precision) in [
        (112, 256, 256, Precision::F32),
        (128, 256, 256, Precision::SplitBf16),
        (128, 64, 1024, Precision::SplitBf16),
        (128, 1024, 64, Precision::SplitBf16),
    ] {
        if precision == Precision::SplitBf16 && !split {
            continue;
        }
        let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32).collect();
        let w: Vec<f32> = (0..n * k).map(|i| (i % 7) as f32).collect();
        let b = BMatrix::Nk { data: &w, ld: k };
        let packed = PackedB::with_precision(n, k, b, precision);
        let mut c = vec![0f32; m * n];
        let s = (0..200)
            .map(|_| {
                let t = Instant::now();
                // SAFETY: C holds m × n, owned here.
                unsafe {
                    smolvlm_kernels::gemm::gemm_packed_serial(
                        m,
                        n,
                        k,
                        &a,
                        k,
                        &packed,
                        c.as_mut_ptr(),
                        n,
                    )
                };
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        println!(
            "in cache {m}×{n}×{k} {precision:?}, one thread: {:.1} GFLOP/s",
            2.0 * (m * n * k) as f64 / s / 1e9
        );
    }
    for (m, n, k) in [
        (1024, 768, 768),
        (1024, 3072, 768),
        (1024, 768, 3072),
        (512, 576, 576),
        (512, 1536, 576),
    ] {
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5)
            .collect();
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 104729) % 1000) as f32 * 1e-3 - 0.5)
            .collect();
        let mut c = vec![0f32; m * n];
        let mut runs: Vec<(SimdLevel, Precision)> = SimdLevel::available()
            .into_iter()
            .map(|l| (l, Precision::F32))
            .collect();
        if SimdLevel::detect() >= SimdLevel::Amx {
            runs.push((SimdLevel::Amx, Precision::SplitBf16));
        }
        for (level, precision) in runs {
            // Weights packed at load, as the vision tower's are.
            let b = BMatrix::Nk { data: &w, ld: k };
            let packed = PackedB::new_at(level, n, k, b, precision);
            let run = |c: &mut [f32]| gemm_packed_at(level, m, &a, k, &packed, None, c, n);
            run(&mut c);
            // The best of ten: a shared VM's noise only ever adds time.
            let s = (0..10)
                .map(|_| {
                    let t = Instant::now();
                    run(&mut c);
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min);
            println!(
                "{m:5}×{n:5}×{k:5} {:7} {precision:?}: {:7.2} ms {:7.1} GFLOP/s",
                level.name(),
                s * 1e3,
                2.0 * (m * n * k) as f64 / s / 1e9
            );
        }
    }
}

fn attention_of_a_tile() {
    // Attention of one SigLIP-B tile: 12 heads of 64 over 1024 patches.
    let (heads, hd, len) = (12, 64, 1024);
    let st = Strides {
        batch: len * heads * hd,
        token: heads * hd,
        head: hd,
    };
    let x: Vec<f32> = (0..len * heads * hd)
        .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5)
        .collect();
    let mut out = vec![0f32; x.len()];
    for precision in [Precision::F32, Precision::SplitBf16] {
        let shape = AttentionShape {
            batch: 1,
            heads,
            kv_heads: heads,
            head_dim: hd,
            q_len: len,
            kv_len: len,
            causal_offset: None,
            scale: 0.125,
            precision,
        };
        let s = (0..30)
            .map(|_| {
                let t = Instant::now();
                attention(&shape, &x, st, &x, st, &x, st, &mut out, st).expect("shapes fit");
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        let flops = 4.0 * (heads * len * len * hd) as f64;
        println!(
            "attention {heads}×{len}×{hd} {precision:?}: {:7.2} ms {:7.1} GFLOP/s",
            s * 1e3,
            flops / s / 1e9
        );
    }
}
