//! The split of f32 values into two bf16 halves, `x = hi + lo` (16 significant bits of f32's
//! 24; an f16 or bf16 value splits exactly), for products of
//! [`Precision::SplitBf16`]: the portable reference of the AVX-512 split
//! (`crate::arch::avx512::bf16`), and the tail of the AMX packing.
//!
//! [`Precision::SplitBf16`]: crate::gemm::Precision::SplitBf16

/// Rounds f32 bits to the nearest bf16 (ties to even), for finite values that do not round up
/// past the largest bf16.
fn round_bits(bits: u32) -> u32 {
    (bits + 0x7fff + ((bits >> 16) & 1)) & 0xffff_0000
}

/// `x` as bf16 bits `(hi, lo)` with `hi + lo ≈ x` to 16 significant bits. Infinities and NaN go
/// whole into `hi` (NaN kept quiet), so a product with them is not finite (NaN where a zero lo
/// meets an infinite hi); values within half a bf16 ulp of f32's largest are truncated rather
/// than rounded to infinity.
pub(crate) fn split(x: f32) -> (u16, u16) {
    let bits = x.to_bits();
    let abs = bits & 0x7fff_ffff;
    if abs >= 0x7f80_0000 {
        let quiet = if abs > 0x7f80_0000 { 0x0040 } else { 0 };
        return ((bits >> 16) as u16 | quiet, 0);
    }
    let hi = if abs >= 0x7f7f_8000 {
        bits & 0xffff_0000
    } else {
        round_bits(bits)
    };
    let rest = x - f32::from_bits(hi);
    ((hi >> 16) as u16, (round_bits(rest.to_bits()) >> 16) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(hi: u16, lo: u16) -> f64 {
        f32::from_bits((hi as u32) << 16) as f64 + f32::from_bits((lo as u32) << 16) as f64
    }

    #[test]
    fn split_keeps_16_significant_bits_and_f16_values_exactly() {
        let mut x = 0x1234_5678u32;
        for _ in 0..100_000 {
            // xorshift over every bit pattern but infinities and NaN.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let v = f32::from_bits(x);
            if !v.is_finite() || v.abs() < 1e-30 {
                continue;
            }
            let (hi, lo) = split(v);
            let err = (join(hi, lo) - v as f64).abs();
            assert!(err <= v.abs() as f64 * 2f64.powi(-16), "{v}: {err}");
            let h = half::f16::from_f32(v);
            if h.is_finite() && h.to_f32() != 0.0 {
                let (hi, lo) = split(h.to_f32());
                assert_eq!(join(hi, lo), h.to_f64(), "f16 {h}");
            }
        }
        assert_eq!(split(f32::INFINITY), (0x7f80, 0));
        assert_eq!(split(f32::NEG_INFINITY), (0xff80, 0));
        let (nan, lo) = split(f32::from_bits(0x7f80_0001));
        assert!(f32::from_bits((nan as u32) << 16).is_nan() && lo == 0);
        let (hi, _) = split(f32::MAX);
        assert!(f32::from_bits((hi as u32) << 16).is_finite());
    }
}
