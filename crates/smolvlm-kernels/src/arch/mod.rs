//! The kernels of each instruction set, one module per ISA, as ggml-cpu lays them out: `avx2`
//! (x86-64 AVX2 + FMA + F16C), `avx512` (AVX-512 F/BW/VNNI), `amx` (AMX-BF16 tiles) and `neon`
//! (AArch64 NEON with the dot-product extension). Each holds one file per kernel family (`dot`,
//! `gemm`, `vmath`, `attention`, `act`, `interleaved`), named after the generic module that
//! dispatches to it and keeps the portable reference code.
//!
//! Nothing here detects features: the dispatchers ask [`crate::cpu`] and call these only where
//! the CPU has what a kernel's `#[target_feature]` names. Kernels use only the bottom layer —
//! `crate::common` (the blocks, layouts and constants they share with the portable code),
//! `crate::formats`, `crate::cpu`, `crate::send_ptr`, `crate::pool` — never the generic modules,
//! which use them for the dispatch.

/// Runs `step(block, activations, acc, offset)` over the blocks with two independent pairs of
/// accumulators (each starting at `$zero`), so consecutive blocks do not wait on each other's
/// additions; the dot-product modules define `sum_chains` for their vector type.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
macro_rules! two_chains {
    ($w:expr, $a:expr, $bytes:expr, $zero:expr, $step:expr) => {{
        let mut blocks = $w.chunks_exact($bytes).zip($a);
        let (mut acc0, mut acc1) = ($zero, $zero);
        let (mut off0, mut off1) = (0f32, 0f32);
        loop {
            let Some((b, a)) = blocks.next() else { break };
            $step(b, a, &mut acc0, &mut off0);
            let Some((b, a)) = blocks.next() else { break };
            $step(b, a, &mut acc1, &mut off1);
        }
        sum_chains(acc0, acc1) + (off0 + off1)
    }};
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod amx;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;

/// A Q4_K/Q5_K super-block's eight 6-bit sub-block scales, and Σ over sub-blocks of min ×
/// activation sum (the vector kernels apply the scales to integer products and subtract this).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
fn k_mins(scales: &[u8], a: &crate::common::q8::Q8KBlock) -> ([i16; 8], i32) {
    let mut sc = [0i16; 8];
    let mut summ = 0i32;
    for (j, s) in sc.iter_mut().enumerate() {
        let (scale, min) = crate::formats::k_scale_min(scales, j);
        *s = scale as i16;
        summ += min as i32 * (a.bsums[2 * j] as i32 + a.bsums[2 * j + 1] as i32);
    }
    (sc, summ)
}

/// A block's f16 scale as f32, by table (the same values as the scalar kernels' conversion):
/// LLVM compiles F16C's scalar conversion into an insert into whatever register it likes — on
/// x86 the running sum — which chained every block to the previous one and made the dot products
/// 3× slower.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
fn half(t: &[f32; 65536], b: &[u8], at: usize) -> f32 {
    t[u16::from_le_bytes([b[at], b[at + 1]]) as usize]
}
