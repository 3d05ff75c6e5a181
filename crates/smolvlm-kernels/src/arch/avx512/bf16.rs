//! The bf16 split of `crate::common::bf16` sixteen floats at a time (AVX-512 F and BW), for the
//! AMX packing.

use std::arch::x86_64::*;

/// 16 floats into bf16 hi and lo halves, as `crate::common::bf16::split` does one, each in the
/// upper 16 bits of its lane (the lower 16 are zero).
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn split_16(x: __m512) -> (__m512i, __m512i) {
    let round = |bits: __m512i| {
        let lsb = _mm512_and_si512(_mm512_srli_epi32::<16>(bits), _mm512_set1_epi32(1));
        let up = _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb);
        _mm512_and_si512(_mm512_add_epi32(bits, up), _mm512_set1_epi32(-65536))
    };
    let bits = _mm512_castps_si512(x);
    let abs = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fff_ffff));
    let nonfinite = _mm512_cmpge_epu32_mask(abs, _mm512_set1_epi32(0x7f80_0000));
    let nan = _mm512_cmpgt_epu32_mask(abs, _mm512_set1_epi32(0x7f80_0000));
    let big = _mm512_cmpge_epu32_mask(abs, _mm512_set1_epi32(0x7f7f_8000));
    let truncated = _mm512_and_si512(bits, _mm512_set1_epi32(-65536));
    let mut hi = _mm512_mask_mov_epi32(round(bits), big, truncated);
    hi = _mm512_mask_or_epi32(hi, nan, hi, _mm512_set1_epi32(0x0040_0000));
    let rest = _mm512_maskz_sub_ps(!nonfinite, x, _mm512_castsi512_ps(hi));
    (hi, round(_mm512_castps_si512(rest)))
}

/// Rows p and p + 1 of a k × 32 panel (`rows`: 64 floats) as one row of the panel's four
/// tiles for their k block: per column the pair (row p, row p + 1), as hi (`hi[h]`: columns
/// 16h..16h + 16) and as lo. Panics unless `rows` has 64 floats and each output 32 slots.
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) fn split_pair_rows(rows: &[f32], hi: [&mut [u16]; 2], lo: [&mut [u16]; 2]) {
    assert!(rows.len() >= 64 && hi.iter().chain(&lo).all(|t| t.len() >= 32));
    for (half, (hi, lo)) in hi.into_iter().zip(lo).enumerate() {
        // SAFETY: the loads read floats 16·half..+16 and 32 + 16·half..+16 of `rows` (64
        // long), the stores 32 u16 (64 bytes) into `hi` and `lo`: in bounds by the assert.
        unsafe {
            let (h0, l0) = split_16(_mm512_loadu_ps(rows.as_ptr().add(half * 16)));
            let (h1, l1) = split_16(_mm512_loadu_ps(rows.as_ptr().add(32 + half * 16)));
            // Little-endian: row p's half in each lane's low 16 bits, row p + 1's above.
            let h = _mm512_or_si512(_mm512_srli_epi32::<16>(h0), h1);
            let l = _mm512_or_si512(_mm512_srli_epi32::<16>(l0), l1);
            _mm512_storeu_si512(hi.as_mut_ptr().cast(), h);
            _mm512_storeu_si512(lo.as_mut_ptr().cast(), l);
        }
    }
}

/// 32 floats of `src` into the bf16 halves `hi` and `lo` (32 each). Panics when a slice is
/// shorter.
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) fn split_32(src: &[f32], hi: &mut [u16], lo: &mut [u16]) {
    assert!(src.len() >= 32 && hi.len() >= 32 && lo.len() >= 32);
    for half in 0..2 {
        // SAFETY: 16 floats at 16·half of `src` and 16 u16 at 16·half of `hi` and `lo`, in
        // bounds by the assert above.
        unsafe {
            let (h, l) = split_16(_mm512_loadu_ps(src.as_ptr().add(half * 16)));
            let h = _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(h));
            let l = _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(l));
            _mm256_storeu_si256(hi.as_mut_ptr().add(half * 16).cast(), h);
            _mm256_storeu_si256(lo.as_mut_ptr().add(half * 16).cast(), l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::bf16::split;

    #[test]
    fn vector_split_equals_scalar_split() {
        if !crate::cpu::has_avx512bw() {
            return;
        }
        let mut values: Vec<f32> = vec![
            0.0,
            -0.0,
            1.0,
            f32::MAX,
            -f32::MAX,
            f32::MIN_POSITIVE,
            1e-40,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::from_bits(0x7f80_0001),
            f32::from_bits(0x3f80_8000),
            f32::from_bits(0x3f81_8000),
        ];
        let mut x = 0x9e37_79b9u32;
        while values.len() < 4096 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            values.push(f32::from_bits(x));
        }
        for chunk in values.chunks_exact(32) {
            let (mut hi, mut lo) = ([0u16; 32], [0u16; 32]);
            // SAFETY: AVX-512 F and BW were detected above.
            unsafe { split_32(chunk, &mut hi, &mut lo) };
            for (t, &v) in chunk.iter().enumerate() {
                assert_eq!((hi[t], lo[t]), split(v), "{v} ({:#x})", v.to_bits());
            }
        }
    }
}
