//! The bottom layer, as ggml's `ggml-common.h`: the data layouts and constants that both the
//! generic modules and every `crate::arch` kernel use, so that neither has to reach into the
//! other. Nothing here dispatches or depends on the modules above it (only on `crate::formats`).
//!
//! - `q8`: the 8-bit activation blocks ([`crate::act::Q8Block`], [`crate::act::Q8KBlock`]) and
//!   the scale of their quantization.
//! - `math`: the scalar SiLU and tanh-GELU and the Cephes `expf` constants of `crate::vmath`.
//! - `gemm`: the GEMM's block sizes (panel width, K block, A's stride, …) and the micro-kernels'
//!   edge store.
//! - `bf16`: the split of f32 into two bf16 halves (`crate::gemm`'s split precision, AMX tiles).
//! - `interleaved`: the record layout of the interleaved AVX-512 VNNI weights (`Form`, `KForm`
//!   and the offsets).

// Only the AMX packing (x86-64) splits; the portable split and its test build everywhere.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) mod bf16;
pub(crate) mod gemm;
pub(crate) mod interleaved;
pub(crate) mod math;
pub(crate) mod q8;
