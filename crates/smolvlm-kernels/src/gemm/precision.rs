//! How a product may round its operands.

use crate::cpu::SimdLevel;

/// How a product may round its operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// f32 multiply-adds: transformers' numerics, to the order of summation.
    #[default]
    F32,
    /// Both operands split into bf16 halves and multiplied on AMX tiles (relative error ~2⁻¹⁶
    /// per product, see `crate::arch::amx`) where [`SimdLevel::Amx`] is available;
    /// [`Precision::F32`] elsewhere. For weights that are f16, bf16 or quantized, and attention
    /// over them.
    SplitBf16,
}

impl Precision {
    /// Whether products of this precision run on tiles at `level`.
    pub(crate) fn tiles_at(self, level: SimdLevel) -> bool {
        self == Precision::SplitBf16 && level >= SimdLevel::Amx && crate::cpu::amx_usable()
    }
}
