//! AArch64 NEON dot products with the dot-product extension (`sdot`: sixteen signed byte
//! products summed in fours into four i32 lanes, one instruction), for `crate::dot` (whose
//! `scalar` module is the reference). Weights are unpacked to bytes in 0..64 (nibbles, fifth and sixth bits ORed in), so
//! the signed product is exact; offsets (Q4_0's −8, the k-quants' mins) come from the
//! activation sums, as in the AVX2 kernels.

use std::arch::aarch64::*;

use crate::arch::{half, k_mins};
use crate::common::q8::{Q8Block, Q8KBlock};

/// `acc + Σ a·b` in groups of four bytes. `vdotq_s32` is not stable in this toolchain; the
/// instruction is, so it is written out.
#[inline]
#[target_feature(enable = "neon,dotprod")]
fn sdot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: the dot-product extension is enabled here (the caller's features); the instruction
    // reads and writes only the named vector registers, no memory or flags.
    unsafe {
        std::arch::asm!(
            "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
            acc = inout(vreg) acc,
            a = in(vreg) a,
            b = in(vreg) b,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    acc
}

/// 16 bytes from `p`.
///
/// # Safety
/// `p` points at 16 readable bytes.
#[inline(always)]
unsafe fn load(p: *const i8) -> int8x16_t {
    // SAFETY: 16 readable bytes (the caller's contract); NEON is baseline on AArch64.
    unsafe { vld1q_s8(p) }
}

/// 16 bytes of packed nibbles → the 32 weights: low nibbles (elements 0..16), then high ones.
///
/// # Safety
/// `p` points at 16 readable bytes.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn nibbles(p: *const u8) -> (uint8x16_t, uint8x16_t) {
    // SAFETY: 16 readable bytes (the caller's contract).
    unsafe {
        let v = vld1q_u8(p);
        (vandq_u8(v, vdupq_n_u8(0x0f)), vshrq_n_u8::<4>(v))
    }
}

/// Bit j of `h` → 0x10 in byte j (the fifth bit of Q5 weights), for bytes 0..16 and 16..32.
#[inline]
#[target_feature(enable = "neon")]
fn fifth_bits(h: u32) -> (uint8x16_t, uint8x16_t) {
    static SPREAD: [u8; 32] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3,
        3, 3,
    ];
    static BIT: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    // SAFETY: the loads read the 16 bytes of `BIT` and bytes 0..16 and 16..32 of `SPREAD`.
    unsafe {
        let v = vreinterpretq_u8_u32(vdupq_n_u32(h));
        let bit = vld1q_u8(BIT.as_ptr());
        let five = vdupq_n_u8(0x10);
        let lo = vtstq_u8(vqtbl1q_u8(v, vld1q_u8(SPREAD.as_ptr())), bit);
        let hi = vtstq_u8(vqtbl1q_u8(v, vld1q_u8(SPREAD.as_ptr().add(16))), bit);
        (vandq_u8(lo, five), vandq_u8(hi, five))
    }
}

/// Σ of 32 weights (as unsigned bytes below 128) times a Q8 block's codes.
#[inline]
#[target_feature(enable = "neon,dotprod")]
fn dot32(lo: uint8x16_t, hi: uint8x16_t, a: &Q8Block) -> int32x4_t {
    // SAFETY: the loads read bytes 0..16 and 16..32 of the block's 32 codes.
    unsafe {
        let p = sdot(vdupq_n_s32(0), vreinterpretq_s8_u8(lo), load(a.q.as_ptr()));
        sdot(p, vreinterpretq_s8_u8(hi), load(a.q.as_ptr().add(16)))
    }
}

/// The two accumulator chains of `two_chains!` summed.
#[inline]
#[target_feature(enable = "neon")]
fn sum_chains(a: float32x4_t, b: float32x4_t) -> f32 {
    vaddvq_f32(vaddq_f32(a, b))
}

#[target_feature(enable = "neon,dotprod")]
pub(crate) fn q8_0(w: &[u8], a: &[Q8Block]) -> f32 {
    let t = crate::formats::f16_table();
    two_chains!(
        w,
        a,
        34,
        vdupq_n_f32(0.0),
        |b: &[u8], a: &Q8Block, acc: &mut float32x4_t, _: &mut f32| {
            // SAFETY: the loads read bytes 2..34 of a 34-byte block (`chunks_exact(34)`) and
            // the 32 codes of its activations.
            unsafe {
                let x = b.as_ptr().add(2) as *const i8;
                let p = sdot(vdupq_n_s32(0), load(x), load(a.q.as_ptr()));
                let p = sdot(p, load(x.add(16)), load(a.q.as_ptr().add(16)));
                *acc = vfmaq_n_f32(*acc, vcvtq_f32_s32(p), half(t, b, 0) * a.d);
            }
        }
    )
}

#[target_feature(enable = "neon,dotprod")]
pub(crate) fn q4_0(w: &[u8], a: &[Q8Block]) -> f32 {
    let t = crate::formats::f16_table();
    two_chains!(
        w,
        a,
        18,
        vdupq_n_f32(0.0),
        |b: &[u8], a: &Q8Block, acc: &mut float32x4_t, off: &mut f32| {
            // SAFETY: the loads read bytes 2..18 of an 18-byte block (`chunks_exact(18)`).
            unsafe {
                let (lo, hi) = nibbles(b.as_ptr().add(2));
                let s = half(t, b, 0) * a.d;
                *acc = vfmaq_n_f32(*acc, vcvtq_f32_s32(dot32(lo, hi, a)), s);
                *off += s * (-8 * a.sum) as f32;
            }
        }
    )
}

#[target_feature(enable = "neon,dotprod")]
pub(crate) fn q4_1(w: &[u8], a: &[Q8Block]) -> f32 {
    let t = crate::formats::f16_table();
    two_chains!(
        w,
        a,
        20,
        vdupq_n_f32(0.0),
        |b: &[u8], a: &Q8Block, acc: &mut float32x4_t, off: &mut f32| {
            // SAFETY: the loads read bytes 4..20 of a 20-byte block (`chunks_exact(20)`).
            unsafe {
                let (lo, hi) = nibbles(b.as_ptr().add(4));
                let s = half(t, b, 0) * a.d;
                *acc = vfmaq_n_f32(*acc, vcvtq_f32_s32(dot32(lo, hi, a)), s);
                *off += half(t, b, 2) * a.d * a.sum as f32;
            }
        }
    )
}

#[target_feature(enable = "neon,dotprod")]
pub(crate) fn q5_0(w: &[u8], a: &[Q8Block]) -> f32 {
    let t = crate::formats::f16_table();
    two_chains!(
        w,
        a,
        22,
        vdupq_n_f32(0.0),
        |b: &[u8], a: &Q8Block, acc: &mut float32x4_t, off: &mut f32| {
            // SAFETY: the loads read bytes 6..22 of a 22-byte block (`chunks_exact(22)`).
            unsafe {
                let (lo, hi) = nibbles(b.as_ptr().add(6));
                let (h0, h1) = fifth_bits(u32::from_le_bytes([b[2], b[3], b[4], b[5]]));
                let p = dot32(vorrq_u8(lo, h0), vorrq_u8(hi, h1), a);
                let s = half(t, b, 0) * a.d;
                *acc = vfmaq_n_f32(*acc, vcvtq_f32_s32(p), s);
                *off += s * (-16 * a.sum) as f32;
            }
        }
    )
}

#[target_feature(enable = "neon,dotprod")]
pub(crate) fn q5_1(w: &[u8], a: &[Q8Block]) -> f32 {
    let t = crate::formats::f16_table();
    two_chains!(
        w,
        a,
        24,
        vdupq_n_f32(0.0),
        |b: &[u8], a: &Q8Block, acc: &mut float32x4_t, off: &mut f32| {
            // SAFETY: the loads read bytes 8..24 of a 24-byte block (`chunks_exact(24)`).
            unsafe {
                let (lo, hi) = nibbles(b.as_ptr().add(8));
                let (h0, h1) = fifth_bits(u32::from_le_bytes([b[4], b[5], b[6], b[7]]));
                let p = dot32(vorrq_u8(lo, h0), vorrq_u8(hi, h1), a);
                let s = half(t, b, 0) * a.d;
                *acc = vfmaq_n_f32(*acc, vcvtq_f32_s32(p), s);
                *off += half(t, b, 2) * a.d * a.sum as f32;
            }
        }
    )
}

/// Σ of 32 weights times 32 codes starting at `y`.
///
/// # Safety
/// `y` points at 32 readable bytes.
#[inline]
#[target_feature(enable = "neon,dotprod")]
unsafe fn dot32_at(lo: uint8x16_t, hi: uint8x16_t, y: *const i8) -> int32x4_t {
    // SAFETY: 32 readable bytes at `y` (the caller's contract).
    unsafe {
        let p = sdot(vdupq_n_s32(0), vreinterpretq_s8_u8(lo), load(y));
        sdot(p, vreinterpretq_s8_u8(hi), load(y.add(16)))
    }
}

#[target_feature(enable = "neon,dotprod")]
pub(crate) fn q4_k(w: &[u8], a: &[Q8KBlock]) -> f32 {
    let t = crate::formats::f16_table();
    let mut acc = vdupq_n_f32(0.0);
    let mut offset = 0f32;
    let m4 = vdupq_n_u8(0x0f);
    for (b, a) in w.chunks_exact(144).zip(a) {
        let (sc, summ) = k_mins(&b[4..16], a);
        let mut sumi = vdupq_n_s32(0);
        for c in 0..4 {
            // SAFETY: the loads read bytes 16 + 32c..48 + 32c (c < 4, inside 16..144) of a
            // 144-byte super-block (`chunks_exact(144)`) and codes 64c..64c + 64 of its 256
            // activations.
            unsafe {
                let q0 = vld1q_u8(b.as_ptr().add(16 + 32 * c));
                let q1 = vld1q_u8(b.as_ptr().add(32 + 32 * c));
                let y = a.q.as_ptr().add(64 * c);
                let lo = dot32_at(vandq_u8(q0, m4), vandq_u8(q1, m4), y);
                let hi = dot32_at(vshrq_n_u8::<4>(q0), vshrq_n_u8::<4>(q1), y.add(32));
                sumi = vmlaq_n_s32(sumi, lo, sc[2 * c] as i32);
                sumi = vmlaq_n_s32(sumi, hi, sc[2 * c + 1] as i32);
            }
        }
        acc = vfmaq_n_f32(acc, vcvtq_f32_s32(sumi), half(t, b, 0) * a.d);
        offset -= half(t, b, 2) * a.d * summ as f32;
    }
    vaddvq_f32(acc) + offset
}

#[target_feature(enable = "neon,dotprod")]
pub(crate) fn q5_k(w: &[u8], a: &[Q8KBlock]) -> f32 {
    let t = crate::formats::f16_table();
    let mut acc = vdupq_n_f32(0.0);
    let mut offset = 0f32;
    let (m4, one, two) = (vdupq_n_u8(0x0f), vdupq_n_u8(1), vdupq_n_u8(2));
    for (b, a) in w.chunks_exact(176).zip(a) {
        let (sc, summ) = k_mins(&b[4..16], a);
        // Chunk c takes bits 2c and 2c + 1 of each qh byte: shifted down by two per chunk.
        // SAFETY: bytes 16..48 (the fifth bits) of a 176-byte super-block.
        let (mut h0, mut h1) =
            unsafe { (vld1q_u8(b.as_ptr().add(16)), vld1q_u8(b.as_ptr().add(32))) };
        let mut sumi = vdupq_n_s32(0);
        for c in 0..4 {
            // SAFETY: the loads read bytes 48 + 32c..80 + 32c (c < 4, inside 48..176) of the
            // super-block and codes 64c..64c + 64 of its 256 activations.
            unsafe {
                let q0 = vld1q_u8(b.as_ptr().add(48 + 32 * c));
                let q1 = vld1q_u8(b.as_ptr().add(64 + 32 * c));
                let y = a.q.as_ptr().add(64 * c);
                let lo0 = vorrq_u8(vandq_u8(q0, m4), vshlq_n_u8::<4>(vandq_u8(h0, one)));
                let lo1 = vorrq_u8(vandq_u8(q1, m4), vshlq_n_u8::<4>(vandq_u8(h1, one)));
                let hi0 = vorrq_u8(vshrq_n_u8::<4>(q0), vshlq_n_u8::<3>(vandq_u8(h0, two)));
                let hi1 = vorrq_u8(vshrq_n_u8::<4>(q1), vshlq_n_u8::<3>(vandq_u8(h1, two)));
                sumi = vmlaq_n_s32(sumi, dot32_at(lo0, lo1, y), sc[2 * c] as i32);
                sumi = vmlaq_n_s32(sumi, dot32_at(hi0, hi1, y.add(32)), sc[2 * c + 1] as i32);
                h0 = vshrq_n_u8::<2>(h0);
                h1 = vshrq_n_u8::<2>(h1);
            }
        }
        acc = vfmaq_n_f32(acc, vcvtq_f32_s32(sumi), half(t, b, 0) * a.d);
        offset -= half(t, b, 2) * a.d * summ as f32;
    }
    vaddvq_f32(acc) + offset
}

#[target_feature(enable = "neon,dotprod")]
pub(crate) fn q6_k(w: &[u8], a: &[Q8KBlock]) -> f32 {
    let t = crate::formats::f16_table();
    let mut acc = vdupq_n_f32(0.0);
    let mut correction = 0f32;
    let (m4, m2) = (vdupq_n_u8(0x0f), vdupq_n_u8(3));
    for (b, a) in w.chunks_exact(210).zip(a) {
        let sc: &[u8] = &b[192..208];
        // The weights are stored + 32: Σ scale · 32 · (sum of the 16 codes) comes off at the end.
        let offset: i32 = sc
            .iter()
            .zip(&a.bsums)
            .map(|(&s, &bs)| (s as i8) as i32 * bs as i32)
            .sum();
        let mut sumi = vdupq_n_s32(0);
        for n in 0..2 {
            // SAFETY: the loads read bytes 64n..64n + 64 and 128 + 32n..160 + 32n (n < 2) of a
            // 210-byte super-block, and codes 128n + 32k + 16h..+16 (k < 4, h < 2) of its 256
            // activations.
            unsafe {
                let p = b.as_ptr();
                let ql = [0, 16, 32, 48].map(|o| vld1q_u8(p.add(64 * n + o)));
                let qh = [0, 16].map(|o| vld1q_u8(p.add(128 + 32 * n + o)));
                for h in 0..2 {
                    // Quarter k of this half: elements 32k + 16h .. +16.
                    let q = [
                        vorrq_u8(vandq_u8(ql[h], m4), vshlq_n_u8::<4>(vandq_u8(qh[h], m2))),
                        vorrq_u8(
                            vandq_u8(ql[2 + h], m4),
                            vshlq_n_u8::<2>(vandq_u8(qh[h], vshlq_n_u8::<2>(m2))),
                        ),
                        vorrq_u8(vshrq_n_u8::<4>(ql[h]), vandq_u8(qh[h], vshlq_n_u8::<4>(m2))),
                        vorrq_u8(
                            vshrq_n_u8::<4>(ql[2 + h]),
                            vshrq_n_u8::<2>(vandq_u8(qh[h], vshlq_n_u8::<6>(m2))),
                        ),
                    ];
                    for (k, q) in q.into_iter().enumerate() {
                        let y = load(a.q.as_ptr().add(128 * n + 32 * k + 16 * h));
                        let s = sc[8 * n + 2 * k + h] as i8 as i32;
                        let d = sdot(vdupq_n_s32(0), vreinterpretq_s8_u8(q), y);
                        sumi = vmlaq_n_s32(sumi, d, s);
                    }
                }
            }
        }
        let d = half(t, b, 208) * a.d;
        acc = vfmaq_n_f32(acc, vcvtq_f32_s32(sumi), d);
        correction -= d * (32 * offset) as f32;
    }
    vaddvq_f32(acc) + correction
}
