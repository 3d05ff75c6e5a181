//! The machine's own limits, measured in the same run as a benchmark so its figures can be put
//! as fractions of them: the f32 multiply-add peak of each SIMD level (independent FMA chains,
//! no memory), the f32 GEMM peak (this crate's packed GEMM on a large in-cache-blocked square),
//! the bf16 dot-product peak where AVX-512 BF16 is there, and the memory read bandwidth (every thread summing its own part of a 1 GiB buffer).
//!
//! `cargo run --release -p smolvlm-kernels --example limits -- [threads] [--json]`
//! (scripts/bench/side_by_side.py runs it before its rows).

use std::time::Instant;

use smolvlm_kernels::SimdLevel;
use smolvlm_kernels::gemm::{BMatrix, PackedB, Precision, gemm_packed_at};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let threads = args
        .iter()
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or_else(smolvlm_kernels::threads::automatic)
        .max(1);
    smolvlm_kernels::threads::set(threads);

    let mut fma = Vec::new();
    let mut gemm = Vec::new();
    for level in SimdLevel::available() {
        match level {
            SimdLevel::Scalar => {}
            // The AMX level's f32 products are the AVX-512 kernel's; what it adds is the split
            // bf16 product (f32-equivalent rate), which f16/bf16 vision towers run.
            SimdLevel::Amx => gemm.push(("amx_split_bf16", gemm_peak(level, Precision::SplitBf16))),
            _ => {
                if let Some(g) = fma_peak(level, threads) {
                    fma.push((level.name(), g));
                }
                gemm.push((level.name(), gemm_peak(level, Precision::F32)));
            }
        }
    }
    let bf16 = bf16_dot_peak(threads);
    let bandwidth = read_bandwidth(threads);

    if json {
        let rows = |v: &[(&str, f64)]| {
            v.iter()
                .map(|(l, g)| format!("\"{l}\":{g:.1}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let bf16 = bf16.map_or("null".to_string(), |g| format!("{g:.1}"));
        println!(
            "{{\"threads\":{threads},\"fma_gflops\":{{{}}},\"gemm_f32_gflops\":{{{}}},\"bf16_dot_gflops\":{bf16},\"read_gb_per_s\":{bandwidth:.2}}}",
            rows(&fma),
            rows(&gemm)
        );
    } else {
        for (l, g) in &fma {
            println!("f32 FMA peak  {l:14} {threads} threads: {g:8.1} GFLOP/s");
        }
        for (l, g) in &gemm {
            println!("GEMM peak     {l:14} {threads} threads: {g:8.1} GFLOP/s");
        }
        if let Some(g) = bf16 {
            println!("bf16 dot peak avx512_bf16     {threads} threads: {g:8.1} GFLOP/s");
        }
        println!("read bandwidth        {threads} threads: {bandwidth:8.2} GB/s");
    }
}

/// The best of five: a shared VM's noise only ever adds time.
fn best_of<F: FnMut() -> f64>(runs: usize, mut f: F) -> f64 {
    (0..runs).map(|_| f()).fold(f64::INFINITY, f64::min)
}

/// GFLOP/s of `threads` threads each running independent FMA chains in registers.
fn fma_peak(level: SimdLevel, threads: usize) -> Option<f64> {
    // Enough chains to cover the FMA latency (4 cycles) on two ports, with room.
    const ITERS: u64 = 40_000_000;
    let (lanes, chains) = match level {
        SimdLevel::Avx512 => (16, 12),
        SimdLevel::Avx2 => (8, 12),
        _ => return None,
    };
    let secs = best_of(5, || {
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| std::hint::black_box(fma_chains(level, ITERS)));
            }
        });
        t.elapsed().as_secs_f64()
    });
    Some((2 * lanes * chains) as f64 * ITERS as f64 * threads as f64 / secs / 1e9)
}

/// GFLOP/s of `threads` threads each running independent `vdpbf16ps` chains (two bf16
/// products per f32 lane per instruction), where the CPU has AVX-512 BF16 but no AMX tiles:
/// the rate a vision tower could reach with its products rounded to bf16, which the f32 FMA
/// peak does not bound (on AMD Zen 4 the instruction issues at the FMA's rate, twice its flops).
fn bf16_dot_peak(threads: usize) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        const ITERS: u64 = 40_000_000;
        if !std::arch::is_x86_feature_detected!("avx512bf16") {
            return None;
        }
        let secs = best_of(5, || {
            let t = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    // SAFETY: AVX-512 BF16 (which implies AVX-512F) was detected above.
                    s.spawn(|| std::hint::black_box(unsafe { x86::dpbf16_avx512(ITERS) }));
                }
            });
            t.elapsed().as_secs_f64()
        });
        Some((4 * 16 * 12) as f64 * ITERS as f64 * threads as f64 / secs / 1e9)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = threads;
        None
    }
}

#[cfg(target_arch = "x86_64")]
fn fma_chains(level: SimdLevel, iters: u64) -> f32 {
    match level {
        // SAFETY: `SimdLevel::available` lists a level only where the CPU runs it.
        SimdLevel::Avx512 => unsafe { x86::fma_avx512(iters) },
        // SAFETY: as above.
        SimdLevel::Avx2 => unsafe { x86::fma_avx2(iters) },
        _ => 0.0,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn fma_chains(_level: SimdLevel, _iters: u64) -> f32 {
    0.0
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Twelve 16-lane chains of `acc = acc * m + a`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn fma_avx512(iters: u64) -> f32 {
        let m = _mm512_set1_ps(0.999_999);
        let a = _mm512_set1_ps(1e-7);
        let mut acc = [_mm512_set1_ps(1.0); 12];
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, m, a);
            }
        }
        let mut sum = _mm512_setzero_ps();
        for x in acc {
            sum = _mm512_add_ps(sum, x);
        }
        _mm512_reduce_add_ps(sum)
    }

    /// Twelve 16-lane chains of `acc += a₀·b₀ + a₁·b₁` on bf16 pairs.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn dpbf16_avx512(iters: u64) -> f32 {
        // Pairs of 1.0 and of 2⁻²⁰: the sums grow slowly and stay finite.
        let one = _mm512_set1_ps(1.0);
        let small = _mm512_set1_ps(1.0 / 1_048_576.0);
        let a = _mm512_cvtne2ps_pbh(one, one);
        let b = _mm512_cvtne2ps_pbh(small, small);
        let mut acc = [_mm512_setzero_ps(); 12];
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm512_dpbf16_ps(*x, a, b);
            }
        }
        let mut sum = _mm512_setzero_ps();
        for x in acc {
            sum = _mm512_add_ps(sum, x);
        }
        _mm512_reduce_add_ps(sum)
    }

    /// Twelve 8-lane chains of `acc = acc * m + a`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn fma_avx2(iters: u64) -> f32 {
        let m = _mm256_set1_ps(0.999_999);
        let a = _mm256_set1_ps(1e-7);
        let mut acc = [_mm256_set1_ps(1.0); 12];
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, m, a);
            }
        }
        let mut sum = _mm256_setzero_ps();
        for x in acc {
            sum = _mm256_add_ps(sum, x);
        }
        let mut lanes = [0f32; 8];
        // SAFETY: `lanes` holds the 8 floats written.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
        lanes.iter().sum()
    }
}

/// GFLOP/s of the crate's GEMM at `level` on a 2048³ product (B packed beforehand, as weights
/// are at load), on the threads set.
fn gemm_peak(level: SimdLevel, precision: Precision) -> f64 {
    let (m, n, k) = (2048, 2048, 2048);
    let a: Vec<f32> = (0..m * k)
        .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5)
        .collect();
    let w: Vec<f32> = (0..n * k)
        .map(|i| ((i * 104_729) % 1000) as f32 * 1e-3 - 0.5)
        .collect();
    let packed = PackedB::new_at(level, n, k, BMatrix::Nk { data: &w, ld: k }, precision);
    let mut c = vec![0f32; m * n];
    gemm_packed_at(level, m, &a, k, &packed, None, &mut c, n);
    let secs = best_of(5, || {
        let t = Instant::now();
        gemm_packed_at(level, m, &a, k, &packed, None, &mut c, n);
        t.elapsed().as_secs_f64()
    });
    2.0 * (m * n * k) as f64 / secs / 1e9
}

/// GB/s of `threads` threads each summing its own contiguous part of a 1 GiB buffer once.
fn read_bandwidth(threads: usize) -> f64 {
    const BYTES: usize = 1 << 30;
    // Filled, so every page is really mapped (untouched pages would all read one zero page).
    let buf: Vec<u64> = (0..BYTES / 8).map(|i| i as u64).collect();
    let part = buf.len().div_ceil(threads);
    let secs = best_of(5, || {
        let t = Instant::now();
        std::thread::scope(|s| {
            for chunk in buf.chunks(part) {
                s.spawn(move || std::hint::black_box(sum(chunk)));
            }
        });
        t.elapsed().as_secs_f64()
    });
    BYTES as f64 / secs / 1e9
}

/// Four independent wrapping sums: integer adds vectorize, and no chain waits on another.
fn sum(xs: &[u64]) -> u64 {
    let mut acc = [0u64; 4];
    for c in xs.chunks_exact(4) {
        for (a, x) in acc.iter_mut().zip(c) {
            *a = a.wrapping_add(*x);
        }
    }
    acc.iter().fold(0, |s, a| s.wrapping_add(*a))
}
