//! The interleaved layout's 16-row dot products with AVX-512 VNNI (see the module above for the
//! record layout). Per record: eight `vpdpbusd` (codes × broadcast activations, one row per
//! lane), one conversion, and one FMA with the rows' scales times the activation block's scale.

use std::arch::x86_64::*;

use super::{Form, GROUP};
use crate::act::Q8Block;

/// How far ahead of the record being multiplied its successors are prefetched, in bytes.
const PREFETCH: usize = 4096;

/// Adds row `lane`'s dot product with `acts` to `sums[lane]` for the 16 rows of `recs`.
///
/// Safety: the CPU has AVX-512 F, BW and VNNI; `recs` is `acts.len()` records of `record` bytes
/// in form `f`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn group_dot(
    f: Form,
    recs: &[u8],
    record: usize,
    acts: &[Q8Block],
    sums: &mut [f32; GROUP],
) {
    debug_assert!(recs.len() >= acts.len() * record);
    // One instance per form: the code width and min are constants inside the loop.
    let acc = match (f.bits, f.min) {
        (8, _) => unsafe { blocks::<8, false>(f, recs, record, acts) },
        (4, false) => unsafe { blocks::<4, false>(f, recs, record, acts) },
        (4, true) => unsafe { blocks::<4, true>(f, recs, record, acts) },
        (5, false) => unsafe { blocks::<5, false>(f, recs, record, acts) },
        (5, true) => unsafe { blocks::<5, true>(f, recs, record, acts) },
        _ => unreachable!("no interleaved form of {} bits", f.bits),
    };
    unsafe {
        let prev = _mm512_loadu_ps(sums.as_ptr());
        _mm512_storeu_ps(sums.as_mut_ptr(), _mm512_add_ps(prev, acc));
    }
}

#[inline(always)]
unsafe fn broadcast4(q: &[i8; 32], o: usize) -> __m512i {
    unsafe { _mm512_set1_epi32(std::ptr::read_unaligned(q.as_ptr().add(4 * o) as *const i32)) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn blocks<const BITS: u8, const MIN: bool>(
    f: Form,
    recs: &[u8],
    record: usize,
    acts: &[Q8Block],
) -> __m512 {
    unsafe {
        let (hi_at, codes_at, m_at) = (f.hi_at(), f.codes_at(), f.m_at());
        let low = _mm512_set1_epi8(0x0f);
        let sixteen = _mm512_set1_epi8(16);
        let mut acc = _mm512_setzero_ps();
        let mut acc_min = _mm512_setzero_ps();
        for (b, a) in acts.iter().enumerate() {
            let rec = recs.as_ptr().add(b * record);
            // The product is bound by reading the weights from L3 or memory: a prefetch 4 KiB
            // ahead keeps more lines in flight than the hardware prefetcher does (decode
            // +15–20 % measured). Prefetching past the end is harmless.
            let ahead = rec.wrapping_add(PREFETCH);
            let mut line = 0;
            while line < record {
                _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(line) as *const i8);
                line += 64;
            }
            let codes = rec.add(codes_at);
            // The fixed offset c·Σa starts the integer sum (vpdpbusd adds into it).
            let mut s0 = _mm512_set1_epi32(f.offset * a.sum);
            let mut s1 = _mm512_setzero_si512();
            for p in 0..4 {
                let (o0, o1) = (2 * p, 2 * p + 1);
                let (mut w0, mut w1) = if BITS == 8 {
                    (
                        _mm512_loadu_si512(codes.add(64 * o0) as *const _),
                        _mm512_loadu_si512(codes.add(64 * o1) as *const _),
                    )
                } else {
                    let v = _mm512_loadu_si512(codes.add(64 * p) as *const _);
                    (
                        _mm512_and_si512(v, low),
                        _mm512_and_si512(_mm512_srli_epi16(v, 4), low),
                    )
                };
                if BITS == 5 {
                    let h = rec.add(hi_at) as *const u64;
                    let k0 = _cvtu64_mask64(std::ptr::read_unaligned(h.add(o0)));
                    let k1 = _cvtu64_mask64(std::ptr::read_unaligned(h.add(o1)));
                    w0 = _mm512_mask_add_epi8(w0, k0, w0, sixteen);
                    w1 = _mm512_mask_add_epi8(w1, k1, w1, sixteen);
                }
                s0 = _mm512_dpbusd_epi32(s0, w0, broadcast4(&a.q, o0));
                s1 = _mm512_dpbusd_epi32(s1, w1, broadcast4(&a.q, o1));
            }
            let d = _mm512_cvtph_ps(_mm256_loadu_si256(rec as *const __m256i));
            let sum = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
            acc = _mm512_fmadd_ps(sum, _mm512_mul_ps(d, _mm512_set1_ps(a.d)), acc);
            if MIN {
                let m = _mm512_cvtph_ps(_mm256_loadu_si256(rec.add(m_at) as *const __m256i));
                acc_min = _mm512_fmadd_ps(m, _mm512_set1_ps(a.d * a.sum as f32), acc_min);
            }
        }
        _mm512_add_ps(acc, acc_min)
    }
}
