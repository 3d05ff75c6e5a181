//! The 8-bit activation blocks (`crate::act` quantizes into them; the dot products of
//! `crate::dot`, `crate::interleaved` and `crate::arch` read them), and the scale every
//! quantization path computes the same way.

use crate::formats::QK_K;

/// 32 activations: `x ≈ d · q`, with the integer sum of `q` kept for the formats whose weights
/// have an offset (Q4_0's −8, Q4_1's min, …).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
pub struct Q8Block {
    pub d: f32,
    pub sum: i32,
    pub q: [i8; 32],
}

/// 256 activations with the sum of each run of 16 (the k-quants' mins and Q6_K's offset).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
pub struct Q8KBlock {
    pub d: f32,
    pub q: [i8; QK_K],
    pub bsums: [i16; 16],
}

/// `1 / d` for `d = amax / 127`; `None` when every value is 0 or one is not finite.
pub(crate) fn inverse_scale(amax: f32) -> Option<f32> {
    (amax != 0.0 && amax.is_finite()).then(|| 1.0 / (amax / 127.0))
}
