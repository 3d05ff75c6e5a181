//! A prompt's products on quantized weights, both ways the engine can run them: the integer
//! kernels over the interleaved layout (activations quantized to 8 bits, as at decode) and the
//! GEMM over panels dequantized per call (split-bf16 on AMX tiles, f32 elsewhere), at SmolLM2-1.7B's
//! shapes: `cargo run --release -p smolvlm-kernels --example prefill_bench [threads] [rows]`.

use std::time::Instant;

use smolvlm_kernels::gemm::{BMatrix, Precision, gemm};
use smolvlm_kernels::{QWeight, WeightType};

fn main() {
    let mut args = std::env::args().skip(1);
    if let Some(t) = args.next().and_then(|s| s.parse().ok()) {
        smolvlm_kernels::threads::set(t);
    }
    let m: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(256);
    for ty in [WeightType::Q8_0, WeightType::Q4K, WeightType::Q6K] {
        // q/k/v of a layer (3 × 2048 rows of 2048), then its down projection (2048 of 8192).
        for (n, k) in [(6144usize, 2048usize), (2048, 8192)] {
            let bytes = n * ty.row_bytes(k).expect("whole blocks");
            let mut x = 0x9e37_79b9u32;
            let data: Vec<u8> = (0..bytes)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    // Small scale bytes keep the f16 scales finite.
                    (x & 0x3f) as u8
                })
                .collect();
            let w = QWeight::from_vec(ty, n, k, data).expect("weights");
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i % 97) as f32 - 48.0) / 50.0)
                .collect();
            let mut y = vec![0f32; m * n];
            let time = |f: &mut dyn FnMut()| {
                f();
                (0..3)
                    .map(|_| {
                        let t = Instant::now();
                        f();
                        t.elapsed().as_secs_f64()
                    })
                    .fold(f64::INFINITY, f64::min)
            };
            let ops = 2.0 * (m * n * k) as f64;
            let int = time(&mut || w.matmul(&a, &mut y));
            let split = time(&mut || {
                gemm(
                    Precision::SplitBf16,
                    m,
                    n,
                    k,
                    &a,
                    k,
                    BMatrix::Quantized(&w),
                    &mut y,
                    n,
                )
            });
            println!(
                "{:5} {m}×{n}×{k}: integer {:6.1} GOP/s, dequantized GEMM {:6.1} GFLOP/s{}",
                ty.name(),
                ops / int / 1e9,
                ops / split / 1e9,
                if w.is_relaid() {
                    ""
                } else {
                    " (no interleaved layout here)"
                },
            );
        }
    }
}
