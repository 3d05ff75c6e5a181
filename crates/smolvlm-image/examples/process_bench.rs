//! Times `ImageProcessor::process` on a synthetic 4000×3000 RGB photo-sized image with the
//! SmolVLM-256M settings (longest edge 2048, tiles of 512, Lanczos) and prints a digest of the
//! frames, so that a faster resampler can be checked to give the same bytes.
//!
//! `cargo run --release -p smolvlm-image --example process_bench [runs]`

use std::time::Instant;

use image::RgbImage;
use smolvlm_image::{ImageProcessor, ProcessorConfig};

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let mut state = 0x1234_5678u64;
    let img = RgbImage::from_fn(4000, 3000, |x, y| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = (state >> 59) as u32;
        image::Rgb([
            ((x * 255 / 3999 + noise) & 0xff) as u8,
            ((y * 255 / 2999 + noise) & 0xff) as u8,
            (((x + y) / 16 + noise * 3) & 0xff) as u8,
        ])
    });
    let proc = ImageProcessor::new(ProcessorConfig {
        longest_edge: 2048,
        tile_size: 512,
        do_image_splitting: true,
        resample: 1,
        ..ProcessorConfig::default()
    });
    let mut times = Vec::new();
    let mut digest = 0u64;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let out = proc.process(&img).unwrap();
        times.push(start.elapsed().as_secs_f64());
        // FNV-1a over every frame.
        digest = 0xcbf2_9ce4_8422_2325;
        for f in &out.frames {
            for &b in f.as_raw() {
                digest = (digest ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        }
        assert_eq!(out.frames.len(), out.plan.frames);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "4000x3000 -> {} frames: best {:.3} s, median {:.3} s over {} runs; threads {}; digest {digest:016x}",
        proc.plan(4000, 3000).frames,
        times[0],
        times[times.len() / 2],
        times.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
}
