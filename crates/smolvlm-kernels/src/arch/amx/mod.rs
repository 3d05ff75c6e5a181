//! Products on AMX tiles (Intel Xeon since Sapphire Rapids) for [`Precision::SplitBf16`]: each
//! operand is split into two bf16 halves, `x = hi + lo` (`crate::common::bf16`), and
//! `hi·hi + hi·lo + lo·hi` is summed in f32 by `tdpbf16ps`. The dropped `lo·lo` term and the
//! split's remainder leave a relative error of about 2⁻¹⁶ per product: a hundred times f32's,
//! ten times below f16 activations (llama.cpp's f16 weights) and far below any weight's rounding
//! to f16 or a quantized type. One `tdpbf16ps` does 16 × 16 × 32 multiply-adds; three of them
//! for the split still run ~4× the AVX-512 FMA rate.
//!
//! Layouts (every tile 16 rows of 64 bytes, packed contiguously so each loads at a 64-byte stride):
//! - B, per panel of 32 columns and block of 32 k: four tiles, hi of columns 0–15, hi of 16–31,
//!   lo of 0–15, lo of 16–31; tile row r holds, for each column, the pair (k = 2r, 2r + 1).
//! - A, per 16 rows and block of 32 k: the hi tile then the lo tile, row-major.
//!
//! `pack` lays the operands out, `tiles` holds the tile instructions, `task` runs a block of C.
//! The dispatcher ([`Precision::tiles_at`]) uses them only where `crate::cpu::amx_usable`.
//!
//! [`Precision::SplitBf16`]: crate::gemm::Precision::SplitBf16
//! [`Precision::tiles_at`]: crate::gemm::Precision

pub(crate) mod pack;
pub(crate) mod task;
mod tiles;

/// Rows of a tile.
pub(crate) const TILE_ROWS: usize = 16;
/// k per tile product: 16 rows of bf16 pairs (a tile row is 64 bytes, 32 bf16).
pub(crate) const KB: usize = 32;
/// Rows of C per kernel call: two tiles of 16.
pub(crate) const MR: usize = 32;
/// Rows of A per task: their tiles (4 KiB per 32 k) stay in L2 while the task's panels pass.
pub(crate) const MC: usize = 128;
/// Tiles per panel and k block of B: hi and lo of each of the two 16-column halves.
pub(crate) const B_TILES: usize = 4;
/// k blocks of a panel taken at a time: their B tiles (4 KiB a block, 32 KiB) stay in L1 while
/// every row pair of the task passes over them; only A's tiles then come from L2.
pub(crate) const KC_BLOCKS: usize = 8;

/// One tile's worth of data: 16 rows × 32 bf16.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Tile(pub(crate) [u16; TILE_ROWS * KB]);

pub(crate) const ZERO: Tile = Tile([0; TILE_ROWS * KB]);
