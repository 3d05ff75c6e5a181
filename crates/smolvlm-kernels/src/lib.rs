//! CPU kernels for SmolVLM's quantized weights: llama.cpp's block formats ([`formats`]), integer
//! dot products against 8-bit activations with the SIMD level picked at run time ([`dot`]; on
//! AVX-512 VNNI CPUs the legacy formats are re-laid out 16 rows at a time, `interleaved`),
//! threaded matrix products over this crate's persistent thread pool ([`pool`]; not rayon)
//! ([`QWeight::matmul`], [`matmul_many`]), and GEMM for batches ([`gemm`]: f32, or split bf16 on
//! AMX tiles for reduced-precision weights).
//!
//! Layers, as ggml-cpu's, each using only those below it:
//! - bottom: `common` (as `ggml-common.h`: activation blocks, the interleaved record layout,
//!   GEMM block sizes, the bf16 split, the element-wise constants), with [`formats`] (the weight
//!   blocks), `cpu` (features, detected once; re-exported as [`SimdLevel`]), `send_ptr` (the one
//!   raw pointer tasks share), [`pool`] and [`threads`];
//! - `arch`: one module per instruction set (`avx2`, `avx512`, `amx`, `neon`), each with one
//!   file per kernel family;
//! - the generic modules ([`act`], [`dot`], [`vmath`], `interleaved`, [`gemm`], then `matmul`
//!   and [`attention`]): the dispatch, which asks `cpu` and calls `arch`, and the portable
//!   reference kernels.

pub mod act;
mod arch;
pub mod attention;
mod common;
mod cpu;
pub mod dot;
pub mod formats;
pub mod gemm;
mod interleaved;
mod matmul;
pub mod pool;
mod send_ptr;
pub mod threads;
pub mod vmath;

pub use cpu::SimdLevel;
pub use formats::{WeightType, dequantize_row};
pub use matmul::{KernelError, QWeight, SharedBytes, matmul_many};
