//! CPU kernels for SmolVLM's quantized weights: llama.cpp's block formats ([`formats`]), integer
//! dot products against 8-bit activations with the SIMD level picked at run time ([`dot`]; on
//! AVX-512 VNNI CPUs the legacy formats are re-laid out 16 rows at a time, `interleaved`),
//! threaded matrix products over this crate's persistent thread pool ([`pool`]; not rayon)
//! ([`QWeight::matmul`], [`matmul_many`]), and GEMM for batches ([`gemm`]: f32, or split bf16 on
//! AMX tiles for reduced-precision weights).
//!
//! Layout, as ggml-cpu's: the generic modules ([`act`], [`attention`], [`dot`], [`gemm`],
//! [`vmath`], `interleaved`) hold the data layouts, the dispatch and the portable reference
//! kernels; `arch` holds one module per instruction set (`avx2`, `avx512`, `amx`, `neon`), each
//! with one file per kernel family. Features are detected once, in `cpu` (re-exported here as
//! [`SimdLevel`]), which every dispatcher asks; `send_ptr` is the one raw pointer tasks share.

pub mod act;
mod arch;
pub mod attention;
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
