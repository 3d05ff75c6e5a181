//! Where everything is in an interleaved record (see `crate::interleaved` for the legacy formats'
//! table and its `kquants` module for the k-quants'): the offsets the builders, the portable
//! fallback and the AVX-512 kernels (`crate::arch::avx512::interleaved`) share.

use crate::formats::WeightType;

/// Rows interleaved in a record: one 32-bit lane of a 512-bit register each.
pub(crate) const GROUP: usize = 16;
/// Activation rows one call of a group's dot products takes at most (a prompt's positions):
/// the record's codes are unpacked once for all of them.
pub(crate) const ROWS: usize = 8;

/// Bytes of one f16 per row of a group (the rows' `d`, `m` or `dmin`).
pub(crate) const F16_LANES: usize = 2 * GROUP;
/// Bytes of one 64-bit mask per operand: bit `4i + t` for row i's code `t` of the operand
/// (4 codes × 16 rows).
pub(crate) const MASK_BYTES: usize = 8;
/// Bytes of one `vpdpbusd` operand of a group: four 8-bit codes of each of the 16 rows.
pub(crate) const OPERAND_BYTES: usize = 4 * GROUP;
/// Operands of a 32-element block: four codes each.
pub(crate) const OPERANDS: usize = 32 / 4;

/// How a legacy format's weights map onto the shared layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Form {
    /// Code width: 4, 5 or 8.
    pub bits: u8,
    /// Whether blocks carry a min (`w = d·u + m`) rather than a fixed offset.
    pub min: bool,
    /// The fixed offset `c` of `w = d·(u + c)`.
    pub offset: i32,
}

impl Form {
    pub(crate) fn of(ty: WeightType) -> Option<Self> {
        use WeightType::*;
        let (bits, min, offset) = match ty {
            Q8_0 => (8, false, -128),
            Q4_0 => (4, false, -8),
            Q4_1 => (4, true, 0),
            Q5_0 => (5, false, -16),
            Q5_1 => (5, true, 0),
            _ => return None,
        };
        Some(Form { bits, min, offset })
    }

    /// Where the rows' mins start (after their scales).
    pub(crate) fn m_at(self) -> usize {
        F16_LANES
    }

    /// Where the fifth bits start (after the scales and mins).
    pub(crate) fn hi_at(self) -> usize {
        F16_LANES + if self.min { F16_LANES } else { 0 }
    }

    /// Where the codes start (after the fifth bits' eight masks).
    pub(crate) fn codes_at(self) -> usize {
        self.hi_at()
            + if self.bits == 5 {
                OPERANDS * MASK_BYTES
            } else {
                0
            }
    }

    /// 8-bit codes store each operand whole; 4- and 5-bit ones two operands per 64 bytes.
    pub(crate) fn record_bytes(self) -> usize {
        let codes = if self.bits == 8 {
            OPERANDS
        } else {
            OPERANDS / 2
        };
        self.codes_at() + codes * OPERAND_BYTES
    }
}

/// A k-quant's form in the interleaved layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KForm {
    /// Q4_K (`five: false`) or Q5_K.
    K45 {
        five: bool,
    },
    K6,
}

/// Bytes of a super-block's codes as nibble pairs: 256 codes × 16 rows / 2.
const K_NIBBLES: usize = 256 * GROUP / 2;

impl KForm {
    pub(crate) fn of(ty: WeightType) -> Option<Self> {
        match ty {
            WeightType::Q4K => Some(KForm::K45 { five: false }),
            WeightType::Q5K => Some(KForm::K45 { five: true }),
            WeightType::Q6K => Some(KForm::K6),
            _ => None,
        }
    }

    pub(crate) fn record_bytes(self) -> usize {
        self.codes_at() + K_NIBBLES
    }

    /// Where the codes start.
    pub(crate) fn codes_at(self) -> usize {
        match self {
            KForm::K45 { five } => K45_CODES + if five { K45_HI_BYTES } else { 0 },
            KForm::K6 => K6_CODES,
        }
    }
}

/// Q4_K/Q5_K: the rows' `dmin`, after their `d`.
pub(crate) const K45_DMIN: usize = F16_LANES;
/// Q4_K/Q5_K: the eight sub-block scales of the 16 rows, byte `16j + lane`.
pub(crate) const K45_SCALES: usize = K45_DMIN + F16_LANES;
/// Q4_K/Q5_K: the eight sub-block mins, as the scales.
pub(crate) const K45_MINS: usize = K45_SCALES + 8 * GROUP;
/// Q5_K: the fifth bits, a mask per (sub-block, operand).
pub(crate) const K45_HI: usize = K45_MINS + 8 * GROUP;
/// Q5_K: bytes of the fifth bits: 8 sub-blocks × 8 operands.
const K45_HI_BYTES: usize = 8 * OPERANDS * MASK_BYTES;
/// Q4_K: the codes (Q5_K: after the fifth bits).
const K45_CODES: usize = K45_HI;
/// Q6_K: the sixteen sub-block scales of the 16 rows, byte `16i + lane`, after their `d`.
pub(crate) const K6_SCALES: usize = F16_LANES;
/// Q6_K: bits 4 and 5 of the codes, two masks per (sub-block of 16, operand).
pub(crate) const K6_HI: usize = K6_SCALES + 16 * GROUP;
/// Q6_K: the codes' low nibbles, after 16 sub-blocks × 4 operands × 2 masks.
const K6_CODES: usize = K6_HI + 16 * 4 * 2 * MASK_BYTES;

const _: () = assert!(K45_MINS == 192 && K45_HI == 320 && K6_HI == 288 && K6_CODES == 1312);
