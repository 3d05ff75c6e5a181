//! Portable dot products of one weight row with one quantized activation row. Integer sums are
//! exact, so the SIMD versions agree with these up to float rounding of the per-block scaling.

use crate::common::q8::{Q8Block, Q8KBlock};
use crate::formats::{f16_at, k_scale_min};

#[inline(always)]
fn idot(a: impl Iterator<Item = i32>, b: &[i8]) -> i32 {
    a.zip(b).map(|(x, &y)| x * y as i32).sum()
}

fn nibbles(qs: &[u8]) -> impl Iterator<Item = i32> + '_ {
    qs.iter()
        .map(|&b| (b & 0x0f) as i32)
        .chain(qs.iter().map(|&b| (b >> 4) as i32))
}

fn fives<'a>(qs: &'a [u8], qh: &'a [u8]) -> impl Iterator<Item = i32> + 'a {
    let h = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
    nibbles(qs)
        .enumerate()
        .map(move |(i, q)| q | ((((h >> i) & 1) as i32) << 4))
}

pub fn q4_0(w: &[u8], a: &[Q8Block]) -> f32 {
    w.chunks_exact(18)
        .zip(a)
        .map(|(b, a)| {
            let s = idot(nibbles(&b[2..18]), &a.q) - 8 * a.sum;
            f16_at(b, 0) * a.d * s as f32
        })
        .sum()
}

pub fn q4_1(w: &[u8], a: &[Q8Block]) -> f32 {
    w.chunks_exact(20)
        .zip(a)
        .map(|(b, a)| {
            let s = idot(nibbles(&b[4..20]), &a.q);
            f16_at(b, 0) * a.d * s as f32 + f16_at(b, 2) * a.d * a.sum as f32
        })
        .sum()
}

pub fn q5_0(w: &[u8], a: &[Q8Block]) -> f32 {
    w.chunks_exact(22)
        .zip(a)
        .map(|(b, a)| {
            let s = idot(fives(&b[6..22], &b[2..6]), &a.q) - 16 * a.sum;
            f16_at(b, 0) * a.d * s as f32
        })
        .sum()
}

pub fn q5_1(w: &[u8], a: &[Q8Block]) -> f32 {
    w.chunks_exact(24)
        .zip(a)
        .map(|(b, a)| {
            let s = idot(fives(&b[8..24], &b[4..8]), &a.q);
            f16_at(b, 0) * a.d * s as f32 + f16_at(b, 2) * a.d * a.sum as f32
        })
        .sum()
}

pub fn q8_0(w: &[u8], a: &[Q8Block]) -> f32 {
    w.chunks_exact(34)
        .zip(a)
        .map(|(b, a)| {
            let s = idot(b[2..34].iter().map(|&v| v as i8 as i32), &a.q);
            f16_at(b, 0) * a.d * s as f32
        })
        .sum()
}

pub fn q4_k(w: &[u8], a: &[Q8KBlock]) -> f32 {
    w.chunks_exact(144)
        .zip(a)
        .map(|(b, a)| {
            let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
            let (scales, qs) = (&b[4..16], &b[16..144]);
            let (mut sumi, mut summ) = (0i32, 0i32);
            for c in 0..4 {
                let chunk = &qs[32 * c..32 * c + 32];
                let (s1, m1) = k_scale_min(scales, 2 * c);
                let (s2, m2) = k_scale_min(scales, 2 * c + 1);
                let lo = idot(chunk.iter().map(|&q| (q & 0x0f) as i32), &a.q[64 * c..]);
                let hi = idot(chunk.iter().map(|&q| (q >> 4) as i32), &a.q[64 * c + 32..]);
                sumi += s1 as i32 * lo + s2 as i32 * hi;
                let bs = |j: usize| a.bsums[2 * j] as i32 + a.bsums[2 * j + 1] as i32;
                summ += m1 as i32 * bs(2 * c) + m2 as i32 * bs(2 * c + 1);
            }
            a.d * (d * sumi as f32 - dmin * summ as f32)
        })
        .sum()
}

pub fn q5_k(w: &[u8], a: &[Q8KBlock]) -> f32 {
    w.chunks_exact(176)
        .zip(a)
        .map(|(b, a)| {
            let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
            let (scales, qh, qs) = (&b[4..16], &b[16..48], &b[48..176]);
            let (mut sumi, mut summ) = (0i32, 0i32);
            for c in 0..4 {
                let chunk = &qs[32 * c..32 * c + 32];
                let (s1, m1) = k_scale_min(scales, 2 * c);
                let (s2, m2) = k_scale_min(scales, 2 * c + 1);
                let lo = chunk
                    .iter()
                    .zip(qh)
                    .map(|(&q, &h)| ((q & 0x0f) | (((h >> (2 * c)) & 1) << 4)) as i32);
                let hi = chunk
                    .iter()
                    .zip(qh)
                    .map(|(&q, &h)| ((q >> 4) | (((h >> (2 * c + 1)) & 1) << 4)) as i32);
                sumi += s1 as i32 * idot(lo, &a.q[64 * c..])
                    + s2 as i32 * idot(hi, &a.q[64 * c + 32..]);
                let bs = |j: usize| a.bsums[2 * j] as i32 + a.bsums[2 * j + 1] as i32;
                summ += m1 as i32 * bs(2 * c) + m2 as i32 * bs(2 * c + 1);
            }
            a.d * (d * sumi as f32 - dmin * summ as f32)
        })
        .sum()
}

pub fn q6_k(w: &[u8], a: &[Q8KBlock]) -> f32 {
    w.chunks_exact(210)
        .zip(a)
        .map(|(b, a)| {
            let (ql, qh, sc) = (&b[0..128], &b[128..192], &b[192..208]);
            let d = f16_at(b, 208);
            let mut sumi = 0i32;
            for n in 0..2 {
                let (ql, qh, sc) = (&ql[64 * n..], &qh[32 * n..], &sc[8 * n..]);
                let y = &a.q[128 * n..];
                for l in 0..32 {
                    let is = l / 16;
                    let q1 = ((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) as i32 - 32;
                    let q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                    let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                    let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                    sumi += (sc[is] as i8) as i32 * q1 * y[l] as i32
                        + (sc[is + 2] as i8) as i32 * q2 * y[l + 32] as i32
                        + (sc[is + 4] as i8) as i32 * q3 * y[l + 64] as i32
                        + (sc[is + 6] as i8) as i32 * q4 * y[l + 96] as i32;
                }
            }
            a.d * d * sumi as f32
        })
        .sum()
}
