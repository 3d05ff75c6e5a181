//! Kernel throughput of one matrix-vector product per type, from cache-resident and from
//! memory-sized weights: `cargo run --release -p smolvlm-kernels --example matvec_bench`.

use std::time::Instant;

use smolvlm_kernels::{QWeight, WeightType};

fn main() {
    let cols = 576;
    for ty in [
        WeightType::Q4_1,
        WeightType::Q8_0,
        WeightType::Q4K,
        WeightType::Q6K,
        WeightType::Q5_0,
    ] {
        let cols = if ty.block_len() == 256 { 1536 } else { cols };
        for rows in [512usize, 65536] {
            let bytes = rows * ty.row_bytes(cols).unwrap();
            let mut data = vec![0u8; bytes];
            for (i, b) in data.iter_mut().enumerate() {
                *b = (i * 7 % 251) as u8 & 0x3f;
            }
            let w = QWeight::from_vec(ty, rows, cols, data).unwrap();
            let x: Vec<f32> = (0..cols).map(|i| (i as f32).sin()).collect();
            let mut y = vec![0f32; rows];
            // The best of several batches: on a shared machine the mean measures the neighbours.
            let reps = (50_000_000 / bytes).max(3);
            w.matmul(&x, &mut y);
            let s = (0..7)
                .map(|_| {
                    let t = Instant::now();
                    for _ in 0..reps {
                        w.matmul(&x, &mut y);
                    }
                    t.elapsed().as_secs_f64() / reps as f64
                })
                .fold(f64::INFINITY, f64::min);
            println!(
                "{:5} {:6}×{:4}: {:8.1} µs  {:6.2} GB/s  {:6.2} GMAC/s",
                ty.name(),
                rows,
                cols,
                s * 1e6,
                bytes as f64 / s / 1e9,
                (rows * cols) as f64 / s / 1e9
            );
        }
    }
}
