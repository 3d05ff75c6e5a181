//! CPU kernels for SmolVLM's quantized weights: llama.cpp's block formats ([`formats`]), integer
//! dot products against 8-bit activations with the SIMD level picked at run time ([`dot`]), and
//! threaded matrix products over a persistent pool ([`QWeight::matmul`]).

pub mod act;
pub mod dot;
pub mod formats;
mod matmul;
pub mod pool;
pub mod threads;

pub use dot::SimdLevel;
pub use formats::{WeightType, dequantize_row};
pub use matmul::{KernelError, QWeight, SharedBytes};
