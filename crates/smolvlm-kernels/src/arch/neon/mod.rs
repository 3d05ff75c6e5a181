//! AArch64 NEON kernels (with the dot-product extension for `dot`): 4-wide f32 vectors, 32
//! registers. The dispatchers call them only at [`crate::SimdLevel::Neon`], which
//! `crate::cpu` reports only with NEON and `dotprod`.

pub(crate) mod act;
pub(crate) mod attention;
pub(crate) mod dot;
pub(crate) mod gemm;
pub(crate) mod vmath;
