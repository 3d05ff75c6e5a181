//! GFLOP/s of the f32 GEMM at the vision tower's shapes (SigLIP-B/16 at 512²: 1024 patches,
//! 768 wide, MLP 3072): `cargo run --release -p smolvlm-kernels --example gemm_bench [threads]`.

use std::time::Instant;

use smolvlm_kernels::SimdLevel;
use smolvlm_kernels::gemm::{BMatrix, gemm_at};

fn main() {
    if let Some(t) = std::env::args().nth(1).and_then(|s| s.parse().ok()) {
        smolvlm_kernels::threads::set(t);
    }
    // The kernel alone: B packed beforehand, a block that stays in cache.
    {
        let (m, n, k) = (112, 256, 256);
        let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32).collect();
        let w: Vec<f32> = (0..n * k).map(|i| (i % 7) as f32).collect();
        let packed = smolvlm_kernels::gemm::PackedB::new(n, k, BMatrix::Nk { data: &w, ld: k });
        let mut c = vec![0f32; m * n];
        let s = (0..200)
            .map(|_| {
                let t = Instant::now();
                smolvlm_kernels::gemm::gemm_packed(m, &a, k, &packed, &mut c, n);
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        println!(
            "in cache {m}×{n}×{k}: {:.1} GFLOP/s",
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
        for level in SimdLevel::available() {
            let run = |c: &mut [f32]| {
                gemm_at(level, m, n, k, &a, k, BMatrix::Nk { data: &w, ld: k }, c, n)
            };
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
                "{m:5}×{n:5}×{k:5} {:7}: {:7.2} ms {:7.1} GFLOP/s",
                level.name(),
                s * 1e3,
                2.0 * (m * n * k) as f64 / s / 1e9
            );
        }
    }
}
