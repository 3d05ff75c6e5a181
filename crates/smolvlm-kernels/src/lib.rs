//! CPU kernels for SmolVLM's quantized weights: llama.cpp's block formats ([`formats`]), integer
//! dot products against 8-bit activations with the SIMD level picked at run time ([`dot`]; on
//! AVX-512 VNNI CPUs the legacy formats are re-laid out 16 rows at a time, `interleaved`),
//! threaded matrix products over a persistent pool ([`QWeight::matmul`], [`matmul_many`]), and
//! GEMM for batches ([`gemm`]: f32, or split bf16 on AMX tiles for reduced-precision weights).

pub mod act;
pub mod attention;
pub mod dot;
pub mod formats;
pub mod gemm;
mod interleaved;
mod matmul;
pub mod pool;
pub mod threads;
pub mod vmath;

pub use dot::SimdLevel;
pub use formats::{WeightType, dequantize_row};
pub use matmul::{KernelError, QWeight, SharedBytes, matmul_many};
