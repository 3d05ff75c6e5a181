//! Quantized weights re-laid out for AVX-512 VNNI matrix–vector products.
//!
//! In the file's layout each row is a run of blocks, and a dot product per row ends in a
//! horizontal sum and a scalar scale per block: ~12 cycles per 32-weight block here, which made
//! decoding compute-bound. Interleaving 16 rows block by block lets one `vpdpbusd` multiply four
//! weights of each of 16 rows with the same four activations, every lane accumulating its own
//! row: a block of 16 rows is 8 such instructions, one conversion and one FMA with the 16 rows'
//! scales, and the product becomes bound by reading the weights.
//!
//! The legacy 32-element formats share one layout of unsigned codes `u` (what `vpdpbusd` takes):
//! `w = d·(u + c)` for Q8_0 (u = q + 128, c = −128), Q4_0 (c = −8) and Q5_0 (c = −16), and
//! `w = d·u + m` for Q4_1 and Q5_1. A record holds one block of 16 rows, at the file's size:
//!
//! | bytes | content |
//! |---|---|
//! | 32 | `d` of the 16 rows, f16 |
//! | 32 | `m` of the 16 rows, f16 (Q4_1, Q5_1) |
//! | 64 | 5-bit codes: eight 64-bit masks, bit `4i + t` = bit 4 of row i's code `4o + t` (mask o) |
//! | 512 / 256 | codes: operand `o` (weights `4o..4o + 4`) has row i's four codes at bytes `4i..4i + 4`; 8-bit codes store the 8 operands, 4/5-bit ones pack operands `2p` and `2p + 1` as the low and high nibbles of 64 bytes |
//!
//! The records of a group of 16 rows follow each other, so a thread streams its rows' bytes in
//! order. Rows past the last are zero (scale 0) and never stored.
//!
//! Here: `records` (storage and threading), `legacy` and `kquants` (the two families, with their
//! portable dot products); the offsets are in `crate::common::interleaved`, the kernels in
//! `crate::arch::avx512::interleaved`.

mod kquants;
mod legacy;
mod records;

pub(crate) use kquants::InterleavedK;
pub(crate) use legacy::Interleaved;

/// Whether this CPU runs the interleaved kernels (see `crate::cpu::has_avx512_vnni`).
pub(crate) fn supported() -> bool {
    crate::cpu::has_avx512_vnni()
}
