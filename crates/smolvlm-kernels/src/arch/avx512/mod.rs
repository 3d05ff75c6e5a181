//! AVX-512 kernels: 16-wide f32 vectors, 32 registers, masked loads and stores. `gemm` and
//! `vmath` need AVX-512F ([`crate::SimdLevel::Avx512`]); `interleaved` also BW and VNNI
//! (`crate::cpu::has_avx512_vnni`); `bf16` F and BW (the AMX packing's split).

pub(crate) mod bf16;
pub(crate) mod gemm;
pub(crate) mod interleaved;
pub(crate) mod vmath;
