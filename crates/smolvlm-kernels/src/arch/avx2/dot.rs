//! AVX2 + FMA + F16C dot products of a weight row with a quantized activation row (the portable
//! reference is `crate::dot::scalar`). Each block's integers are multiplied with `maddubs` (unsigned × signed bytes into 16-bit pairs,
//! which cannot saturate here: weights are at most 6 bits) and summed to 32 bits with `madd`.

use std::arch::x86_64::*;

use super::hsum;
use crate::arch::{half, k_mins};
use crate::common::q8::{Q8Block, Q8KBlock};

/// Unsigned bytes × signed bytes, summed in fours into eight i32.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_u8_i8(x: __m256i, y: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1))
}

/// 32 bytes from `p`.
///
/// # Safety
/// The CPU has AVX2 (callers are this module's kernels) and `p` points at 32 readable bytes.
#[inline(always)]
unsafe fn load(p: *const i8) -> __m256i {
    // SAFETY: 32 readable bytes at `p`, an unaligned load (the caller's contract).
    unsafe { _mm256_loadu_si256(p as *const __m256i) }
}

/// 16 bytes of packed nibbles → 32 bytes: low nibbles first, then high ones (ggml's order).
///
/// # Safety
/// The CPU has AVX2 (callers are this module's kernels) and `p` points at 16 readable bytes.
#[inline(always)]
unsafe fn nibbles(p: *const u8) -> __m256i {
    // SAFETY: 16 readable bytes at `p`, AVX2 present (the caller's contract).
    unsafe {
        let v = _mm_loadu_si128(p as *const __m128i);
        let m = _mm_set1_epi8(0x0f);
        _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m))
    }
}

/// Bit j of `h` → 0x10 in byte j (the fifth bit of Q5 weights).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn fifth_bits(h: u32) -> __m256i {
    let v = _mm256_set1_epi32(h as i32);
    let spread = _mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3,
        3, 3,
    );
    let b = _mm256_shuffle_epi8(v, spread);
    let bit = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
    let set = _mm256_cmpeq_epi8(_mm256_and_si256(b, bit), bit);
    _mm256_and_si256(set, _mm256_set1_epi8(0x10))
}

/// The two accumulator chains of `two_chains!` summed.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn sum_chains(a: __m256, b: __m256) -> f32 {
    hsum(_mm256_add_ps(a, b))
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn q8_0(w: &[u8], a: &[Q8Block]) -> f32 {
    // SAFETY: AVX2, FMA and F16C are enabled here (the dispatcher found them), and
    // the loads read bytes 2..34 of a 34-byte block (`chunks_exact(34)`: its codes) and
    // the 32 codes of the block's activations.
    unsafe {
        let t = crate::formats::f16_table();
        two_chains!(
            w,
            a,
            34,
            _mm256_setzero_ps(),
            |b: &[u8], a: &Q8Block, acc: &mut __m256, _: &mut f32| {
                let x = load(b.as_ptr().add(2) as *const i8);
                let y = load(a.q.as_ptr());
                let p = dot_u8_i8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
                let s = _mm256_set1_ps(half(t, b, 0) * a.d);
                *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), s, *acc);
            }
        )
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn q4_0(w: &[u8], a: &[Q8Block]) -> f32 {
    // SAFETY: AVX2, FMA and F16C are enabled here (the dispatcher found them), and
    // the loads read bytes 2..18 of an 18-byte block (`chunks_exact(18)`) and the 32
    // codes of the block's activations.
    unsafe {
        let t = crate::formats::f16_table();
        two_chains!(
            w,
            a,
            18,
            _mm256_setzero_ps(),
            |b: &[u8], a: &Q8Block, acc: &mut __m256, off: &mut f32| {
                let p = dot_u8_i8(nibbles(b.as_ptr().add(2)), load(a.q.as_ptr()));
                let s = half(t, b, 0) * a.d;
                *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(s), *acc);
                *off += s * (-8 * a.sum) as f32;
            }
        )
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn q4_1(w: &[u8], a: &[Q8Block]) -> f32 {
    // SAFETY: AVX2, FMA and F16C are enabled here (the dispatcher found them), and
    // the loads read bytes 4..20 of a 20-byte block (`chunks_exact(20)`) and the 32
    // codes of the block's activations.
    unsafe {
        let t = crate::formats::f16_table();
        two_chains!(
            w,
            a,
            20,
            _mm256_setzero_ps(),
            |b: &[u8], a: &Q8Block, acc: &mut __m256, off: &mut f32| {
                let p = dot_u8_i8(nibbles(b.as_ptr().add(4)), load(a.q.as_ptr()));
                let s = half(t, b, 0) * a.d;
                *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(s), *acc);
                *off += half(t, b, 2) * a.d * a.sum as f32;
            }
        )
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn q5_0(w: &[u8], a: &[Q8Block]) -> f32 {
    // SAFETY: AVX2, FMA and F16C are enabled here (the dispatcher found them), and
    // the loads read bytes 6..22 of a 22-byte block (`chunks_exact(22)`) and the 32
    // codes of the block's activations.
    unsafe {
        let t = crate::formats::f16_table();
        two_chains!(
            w,
            a,
            22,
            _mm256_setzero_ps(),
            |b: &[u8], a: &Q8Block, acc: &mut __m256, off: &mut f32| {
                let h = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
                let x = _mm256_or_si256(nibbles(b.as_ptr().add(6)), fifth_bits(h));
                let p = dot_u8_i8(x, load(a.q.as_ptr()));
                let s = half(t, b, 0) * a.d;
                *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(s), *acc);
                *off += s * (-16 * a.sum) as f32;
            }
        )
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn q5_1(w: &[u8], a: &[Q8Block]) -> f32 {
    // SAFETY: AVX2, FMA and F16C are enabled here (the dispatcher found them), and
    // the loads read bytes 8..24 of a 24-byte block (`chunks_exact(24)`) and the 32
    // codes of the block's activations.
    unsafe {
        let t = crate::formats::f16_table();
        two_chains!(
            w,
            a,
            24,
            _mm256_setzero_ps(),
            |b: &[u8], a: &Q8Block, acc: &mut __m256, off: &mut f32| {
                let h = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                let x = _mm256_or_si256(nibbles(b.as_ptr().add(8)), fifth_bits(h));
                let p = dot_u8_i8(x, load(a.q.as_ptr()));
                let s = half(t, b, 0) * a.d;
                *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(s), *acc);
                *off += half(t, b, 2) * a.d * a.sum as f32;
            }
        )
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn q4_k(w: &[u8], a: &[Q8KBlock]) -> f32 {
    // SAFETY: AVX2, FMA and F16C are enabled here (the dispatcher found them), and
    // the loads read bytes 16 + 32c..48 + 32c (c < 4, inside 16..144) of a 144-byte
    // super-block (`chunks_exact(144)`) and codes 64c..64c + 64 of its 256 activations.
    unsafe {
        let t = crate::formats::f16_table();
        let mut acc = _mm256_setzero_ps();
        let mut offset = 0f32;
        let m4 = _mm256_set1_epi8(0x0f);
        for (b, a) in w.chunks_exact(144).zip(a) {
            let (sc, summ) = k_mins(&b[4..16], a);
            let qs = b.as_ptr().add(16);
            let mut sumi = _mm256_setzero_si256();
            for c in 0..4 {
                let q = _mm256_loadu_si256(qs.add(32 * c) as *const __m256i);
                let lo = _mm256_and_si256(q, m4);
                let hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                let p1 = _mm256_maddubs_epi16(lo, load(a.q.as_ptr().add(64 * c)));
                let p2 = _mm256_maddubs_epi16(hi, load(a.q.as_ptr().add(64 * c + 32)));
                let p1 = _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * c]));
                let p2 = _mm256_madd_epi16(p2, _mm256_set1_epi16(sc[2 * c + 1]));
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p1, p2));
            }
            let d = half(t, b, 0) * a.d;
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(d), acc);
            offset -= half(t, b, 2) * a.d * summ as f32;
        }
        hsum(acc) + offset
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn q5_k(w: &[u8], a: &[Q8KBlock]) -> f32 {
    // SAFETY: AVX2, FMA and F16C are enabled here (the dispatcher found them), and
    // the loads read bytes 16..48 (the fifth bits) and 48 + 32c..80 + 32c (c < 4, inside
    // 48..176) of a 176-byte super-block, and codes 64c..64c + 64 of its 256 activations.
    unsafe {
        let t = crate::formats::f16_table();
        let mut acc = _mm256_setzero_ps();
        let mut offset = 0f32;
        let m4 = _mm256_set1_epi8(0x0f);
        let one = _mm256_set1_epi8(1);
        for (b, a) in w.chunks_exact(176).zip(a) {
            let (sc, summ) = k_mins(&b[4..16], a);
            let hb = _mm256_loadu_si256(b.as_ptr().add(16) as *const __m256i);
            let qs = b.as_ptr().add(48);
            let mut sumi = _mm256_setzero_si256();
            for c in 0..4 {
                let q = _mm256_loadu_si256(qs.add(32 * c) as *const __m256i);
                let h1 =
                    _mm256_and_si256(_mm256_srl_epi16(hb, _mm_cvtsi32_si128(2 * c as i32)), one);
                let h2 = _mm256_and_si256(
                    _mm256_srl_epi16(hb, _mm_cvtsi32_si128(2 * c as i32 + 1)),
                    one,
                );
                let lo = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_slli_epi16(h1, 4));
                let hi = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                    _mm256_slli_epi16(h2, 4),
                );
                let p1 = _mm256_maddubs_epi16(lo, load(a.q.as_ptr().add(64 * c)));
                let p2 = _mm256_maddubs_epi16(hi, load(a.q.as_ptr().add(64 * c + 32)));
                let p1 = _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * c]));
                let p2 = _mm256_madd_epi16(p2, _mm256_set1_epi16(sc[2 * c + 1]));
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p1, p2));
            }
            let d = half(t, b, 0) * a.d;
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(d), acc);
            offset -= half(t, b, 2) * a.d * summ as f32;
        }
        hsum(acc) + offset
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn q6_k(w: &[u8], a: &[Q8KBlock]) -> f32 {
    // SAFETY: AVX2, FMA and F16C are enabled here (the dispatcher found them), and
    // the loads read bytes 64n..64n + 64 and 128 + 32n..160 + 32n (n < 2) of a
    // 210-byte super-block, and codes 128n + 32k..+32 (k < 4) of its 256 activations.
    unsafe {
        let t = crate::formats::f16_table();
        let mut acc = _mm256_setzero_ps();
        let m4 = _mm256_set1_epi8(0x0f);
        let m2 = _mm256_set1_epi8(3);
        for (b, a) in w.chunks_exact(210).zip(a) {
            let sc: &[u8] = &b[192..208];
            let mut offset = 0i32;
            for (s, bs) in sc.iter().zip(&a.bsums) {
                offset += (*s as i8) as i32 * *bs as i32;
            }
            let mut sumi = _mm256_setzero_si256();
            for n in 0..2 {
                let ql0 = _mm256_loadu_si256(b.as_ptr().add(64 * n) as *const __m256i);
                let ql1 = _mm256_loadu_si256(b.as_ptr().add(64 * n + 32) as *const __m256i);
                let qh = _mm256_loadu_si256(b.as_ptr().add(128 + 32 * n) as *const __m256i);
                let q = [
                    _mm256_or_si256(
                        _mm256_and_si256(ql0, m4),
                        _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4),
                    ),
                    _mm256_or_si256(
                        _mm256_and_si256(ql1, m4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4),
                    ),
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4),
                    ),
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4),
                    ),
                ];
                for (k, q) in q.iter().enumerate() {
                    let y = load(a.q.as_ptr().add(128 * n + 32 * k));
                    let p = _mm256_maddubs_epi16(*q, y);
                    let s0 = sc[8 * n + 2 * k] as i8 as i16;
                    let s1 = sc[8 * n + 2 * k + 1] as i8 as i16;
                    let s = _mm256_set_m128i(_mm_set1_epi16(s1), _mm_set1_epi16(s0));
                    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
                }
            }
            let d = half(t, b, 208) * a.d;
            let total =
                _mm256_add_epi32(sumi, _mm256_setr_epi32(-32 * offset, 0, 0, 0, 0, 0, 0, 0));
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), _mm256_set1_ps(d), acc);
        }
        hsum(acc)
    }
}
