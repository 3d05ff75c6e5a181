//! The interleaved layout's 16-row dot products with AVX-512 VNNI (see `crate::interleaved` for
//! the record layout, `crate::common::interleaved` for its offsets, and the `legacy`/`kquants`
//! modules of `crate::interleaved` for the portable sums these equal). Per record: eight
//! `vpdpbusd` (codes × broadcast activations, one row per lane), one conversion, and one FMA
//! with the rows' scales times the activation block's scale.
//!
//! Each kernel takes up to [`ROWS`] activation rows at once (a prompt's positions): a record's
//! codes are loaded and unpacked once for all of them, and their independent sums keep the
//! `vpdpbusd` units busy where one row's two chains wait on the instruction's latency. That
//! turns the matrix–vector product into a prompt's matrix product at the integer units' rate,
//! with the same sums as one row at a time.

use std::arch::x86_64::*;

use crate::common::interleaved::{
    Form, GROUP, K6_HI, K6_SCALES, K45_DMIN, K45_HI, K45_MINS, K45_SCALES, KForm, ROWS,
};
use crate::common::q8::{Q8Block, Q8KBlock};

/// How far ahead of the record being multiplied its successors are prefetched, in bytes (see
/// [`prefetch_record`]).
const PREFETCH: usize = 4096;
/// Bytes of a cache line.
const LINE: usize = 64;

/// Adds row `lane`'s dot product with `acts[i]` to `sums[i][lane]` for the 16 rows of `recs`,
/// for each of the (1 to [`ROWS`]) activation rows i.
///
/// # Safety
/// The CPU has AVX-512 F, BW and VNNI; `acts` and `sums` have the same length, 1 to [`ROWS`];
/// `recs` is `acts[i].len()` records of `record` bytes in form `f` (`record` =
/// `f.record_bytes()`), for every i.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(crate) unsafe fn group_dot(
    f: Form,
    recs: &[u8],
    record: usize,
    acts: &[&[Q8Block]],
    sums: &mut [[f32; GROUP]],
) {
    // The safe callers (`crate::interleaved`'s `group_dot`s) assert this for real; here it is
    // the contract, checked in debug builds without charging every group twice.
    debug_assert!(acts.len() == sums.len() && (1..=ROWS).contains(&acts.len()));
    debug_assert!(acts.iter().all(|a| {
        a.len()
            .checked_mul(record)
            .is_some_and(|need| recs.len() >= need)
    }));
    if acts.len() == 1 {
        // A decode step: straight to the one-row instance.
        // SAFETY: as below, for one row.
        return unsafe { rows_of_form::<1>(f, recs, record, acts, sums) };
    }
    // Forms with a min keep twice the accumulators per row: four rows fill the registers.
    let wide = if f.min { 4 } else { 8 };
    pieces(acts.len(), wide, |r0, n| {
        let (a, s) = (&acts[r0..r0 + n], &mut sums[r0..r0 + n]);
        // SAFETY: `recs` is what `blocks` reads for each row count, and each instance is that
        // of f's code width and min (this function's contract, passed on).
        unsafe {
            match n {
                1 => rows_of_form::<1>(f, recs, record, a, s),
                2 => rows_of_form::<2>(f, recs, record, a, s),
                3 => rows_of_form::<3>(f, recs, record, a, s),
                4 => rows_of_form::<4>(f, recs, record, a, s),
                _ => rows_of_form::<8>(f, recs, record, a, s),
            }
        }
    });
}

/// Cuts `len` rows into the row counts the kernels have instances of: `wide` (4 or 8) at a
/// time, then at most 4 and what is left; `run(first, count)` for each piece.
#[inline]
fn pieces(len: usize, wide: usize, mut run: impl FnMut(usize, usize)) {
    let mut r0 = 0;
    while r0 < len {
        let left = len - r0;
        let n = if left >= wide { wide } else { left.min(4) };
        run(r0, n);
        r0 += n;
    }
}

/// [`group_dot`] for `R` rows.
///
/// # Safety
/// As [`group_dot`], with `acts.len() == sums.len() == R`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn rows_of_form<const R: usize>(
    f: Form,
    recs: &[u8],
    record: usize,
    acts: &[&[Q8Block]],
    sums: &mut [[f32; GROUP]],
) {
    let acts: [&[Q8Block]; R] = std::array::from_fn(|i| acts[i]);
    // One instance per form: the code width and min are constants inside the loop.
    // SAFETY: as this function's contract, passed on with each form's own instance.
    let acc = unsafe {
        match (f.bits, f.min) {
            (8, _) => blocks::<8, false, R>(f, recs, record, acts),
            (4, false) => blocks::<4, false, R>(f, recs, record, acts),
            (4, true) => blocks::<4, true, R>(f, recs, record, acts),
            (5, false) => blocks::<5, false, R>(f, recs, record, acts),
            (5, true) => blocks::<5, true, R>(f, recs, record, acts),
            _ => unreachable!("no interleaved form of {} bits", f.bits),
        }
    };
    for (s, acc) in sums.iter_mut().zip(acc) {
        add_to(s, acc);
    }
}

/// `sums += acc`, lane by lane.
#[inline]
#[target_feature(enable = "avx512f")]
fn add_to(sums: &mut [f32; GROUP], acc: __m512) {
    // SAFETY: `sums` is 16 floats, one vector.
    unsafe {
        let prev = _mm512_loadu_ps(sums.as_ptr());
        _mm512_storeu_ps(sums.as_mut_ptr(), _mm512_add_ps(prev, acc));
    }
}

/// Activation codes `4o..4o + 4` in every lane.
///
/// # Safety
/// AVX-512F is enabled where this inlines (this module's kernels), and `o < 8`.
#[inline(always)]
unsafe fn broadcast4(q: &[i8; 32], o: usize) -> __m512i {
    // SAFETY: bytes 4o..4o + 4 < 32 of `q` (the caller's contract), read unaligned.
    unsafe { _mm512_set1_epi32(std::ptr::read_unaligned(q.as_ptr().add(4 * o) as *const i32)) }
}

/// The 16 rows' dot products with each of the `R` activation rows, for one form.
///
/// # Safety
/// As [`group_dot`], with `BITS` and `MIN` those of `f`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn blocks<const BITS: u8, const MIN: bool, const R: usize>(
    f: Form,
    recs: &[u8],
    record: usize,
    acts: [&[Q8Block]; R],
) -> [__m512; R] {
    // SAFETY: record b < acts[i].len() starts at b·record inside `recs`, and the reads stay in
    // it (the layout of form f): its scales (32 bytes at 0), mins (32 at `m_at`), fifth-bit masks
    // (8 × 8 bytes at `hi_at`) and codes (8 or 4 × 64 bytes at `codes_at`); operands o < 8 of
    // the activations' 32 codes.
    unsafe {
        let (hi_at, codes_at, m_at) = (f.hi_at(), f.codes_at(), f.m_at());
        let low = _mm512_set1_epi8(0x0f);
        let sixteen = _mm512_set1_epi8(16);
        let mut acc = [_mm512_setzero_ps(); R];
        let mut acc_min = [_mm512_setzero_ps(); R];
        // b indexes every row's block b (acts[i][b]) and record b together.
        #[allow(clippy::needless_range_loop)]
        for b in 0..acts[0].len() {
            let rec = recs.as_ptr().add(b * record);
            prefetch_record(rec, record);
            let codes = rec.add(codes_at);
            // Each row's block b, looked up (and bounds-checked) once per record, not per
            // operand: the 8-bit form's loop has nothing else to hide that behind.
            let a: [&Q8Block; R] = std::array::from_fn(|i| &acts[i][b]);
            // The fixed offset c·Σa starts the integer sum (vpdpbusd adds into it).
            let mut s0: [__m512i; R] =
                std::array::from_fn(|i| _mm512_set1_epi32(f.offset * a[i].sum));
            let mut s1 = [_mm512_setzero_si512(); R];
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
                for i in 0..R {
                    let q = &a[i].q;
                    s0[i] = _mm512_dpbusd_epi32(s0[i], w0, broadcast4(q, o0));
                    s1[i] = _mm512_dpbusd_epi32(s1[i], w1, broadcast4(q, o1));
                }
            }
            let d = _mm512_cvtph_ps(_mm256_loadu_si256(rec as *const __m256i));
            let m = if MIN {
                _mm512_cvtph_ps(_mm256_loadu_si256(rec.add(m_at) as *const __m256i))
            } else {
                _mm512_setzero_ps()
            };
            for i in 0..R {
                let a = a[i];
                let sum = _mm512_cvtepi32_ps(_mm512_add_epi32(s0[i], s1[i]));
                acc[i] = _mm512_fmadd_ps(sum, _mm512_mul_ps(d, _mm512_set1_ps(a.d)), acc[i]);
                if MIN {
                    acc_min[i] = _mm512_fmadd_ps(m, _mm512_set1_ps(a.d * a.sum as f32), acc_min[i]);
                }
            }
        }
        std::array::from_fn(|i| _mm512_add_ps(acc[i], acc_min[i]))
    }
}

/// As [`group_dot`] for the k-quants (`super::kquants`), one super-block of 16 rows per record.
///
/// # Safety
/// The CPU has AVX-512 F, BW and VNNI; `acts` and `sums` have the same length, 1 to [`ROWS`];
/// `recs` is `acts[i].len()` records of `record` bytes in form `f` (`record` =
/// `f.record_bytes()`), for every i.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(crate) unsafe fn group_dot_k(
    f: KForm,
    recs: &[u8],
    record: usize,
    acts: &[&[Q8KBlock]],
    sums: &mut [[f32; GROUP]],
) {
    // The safe callers (`crate::interleaved`'s `group_dot`s) assert this for real; here it is
    // the contract, checked in debug builds without charging every group twice.
    debug_assert!(acts.len() == sums.len() && (1..=ROWS).contains(&acts.len()));
    debug_assert!(acts.iter().all(|a| {
        a.len()
            .checked_mul(record)
            .is_some_and(|need| recs.len() >= need)
    }));
    if acts.len() == 1 {
        // A decode step: straight to the one-row instance.
        // SAFETY: as below, for one row.
        return unsafe { rows_of_form_k::<1>(f, recs, record, acts, sums) };
    }
    // Q4_K and Q5_K keep five accumulators per row: four rows fill the registers.
    let wide = if f == KForm::K6 { 8 } else { 4 };
    pieces(acts.len(), wide, |r0, n| {
        let (a, s) = (&acts[r0..r0 + n], &mut sums[r0..r0 + n]);
        // SAFETY: `recs` is what `k45` and `k6` read for each row count (this function's
        // contract, passed on).
        unsafe {
            match n {
                1 => rows_of_form_k::<1>(f, recs, record, a, s),
                2 => rows_of_form_k::<2>(f, recs, record, a, s),
                3 => rows_of_form_k::<3>(f, recs, record, a, s),
                4 => rows_of_form_k::<4>(f, recs, record, a, s),
                _ => rows_of_form_k::<8>(f, recs, record, a, s),
            }
        }
    });
}

/// [`group_dot_k`] for `R` rows.
///
/// # Safety
/// As [`group_dot_k`], with `acts.len() == sums.len() == R`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn rows_of_form_k<const R: usize>(
    f: KForm,
    recs: &[u8],
    record: usize,
    acts: &[&[Q8KBlock]],
    sums: &mut [[f32; GROUP]],
) {
    let acts: [&[Q8KBlock]; R] = std::array::from_fn(|i| acts[i]);
    // SAFETY: each called for its own form (this function's contract, passed on).
    let acc = unsafe {
        match f {
            KForm::K45 { five: false } => k45::<false, R>(recs, record, acts),
            KForm::K45 { five: true } => k45::<true, R>(recs, record, acts),
            KForm::K6 => k6::<R>(recs, record, acts),
        }
    };
    for (s, acc) in sums.iter_mut().zip(acc) {
        add_to(s, acc);
    }
}

/// Activation codes `at..at + 4` in every lane.
///
/// # Safety
/// AVX-512F is enabled where this inlines (this module's kernels), and `at + 4 ≤ 256`.
#[inline(always)]
unsafe fn broadcast4_k(q: &[i8; 256], at: usize) -> __m512i {
    // SAFETY: bytes at..at + 4 of `q` (the caller's contract), read unaligned.
    unsafe { _mm512_set1_epi32(std::ptr::read_unaligned(q.as_ptr().add(at) as *const i32)) }
}

/// The product is bound by reading the weights from L3 or memory: a prefetch 4 KiB ahead keeps
/// more lines in flight than the hardware prefetcher does (decode +15–20 % measured).
/// Prefetching past the end is harmless.
#[inline(always)]
fn prefetch_record(rec: *const u8, record: usize) {
    let ahead = rec.wrapping_add(PREFETCH);
    let mut line = 0;
    while line < record {
        // SAFETY: a prefetch never faults, whatever the address (formed with wrapping
        // arithmetic, never dereferenced), and SSE is baseline on x86-64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(line) as *const i8) };
        line += LINE;
    }
}

/// Sixteen bytes of per-row values (one per lane) widened to i32 lanes.
///
/// # Safety
/// AVX-512F is enabled where this inlines (this module's kernels); `p` has 16 readable bytes.
#[inline(always)]
unsafe fn lanes_u8(p: *const u8) -> __m512i {
    // SAFETY: 16 readable bytes at `p` (the caller's contract).
    unsafe { _mm512_cvtepu8_epi32(_mm_loadu_si128(p as *const __m128i)) }
}

/// The 16 rows' dot products with each of the `R` activation rows for Q4_K (`FIVE` false) or
/// Q5_K.
///
/// # Safety
/// As [`group_dot_k`], with `f` = `KForm::K45 { five: FIVE }`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn k45<const FIVE: bool, const R: usize>(
    recs: &[u8],
    record: usize,
    acts: [&[Q8KBlock]; R],
) -> [__m512; R] {
    // SAFETY: record b < acts[i].len() starts at b·record inside `recs`, and the reads stay in
    // it: d and dmin (32 bytes each), scales and mins (16 bytes per sub-block j < 8), the fifth
    // bits (masks 8j + 2p, 8j + 2p + 1 of 64) and the codes (256 bytes per sub-block);
    // activation codes 32j + 8p + 4.. < 256.
    unsafe {
        let codes_at = KForm::K45 { five: FIVE }.codes_at();
        let low = _mm512_set1_epi8(0x0f);
        let sixteen = _mm512_set1_epi8(16);
        let mut acc = [_mm512_setzero_ps(); R];
        // b indexes every row's block b (acts[i][b]) and record b together.
        #[allow(clippy::needless_range_loop)]
        for b in 0..acts[0].len() {
            let rec = recs.as_ptr().add(b * record);
            prefetch_record(rec, record);
            let a: [&Q8KBlock; R] = std::array::from_fn(|i| &acts[i][b]);
            let mut isum = [_mm512_setzero_si512(); R];
            let mut msum = [_mm512_setzero_si512(); R];
            for j in 0..8 {
                let codes = rec.add(codes_at + 256 * j);
                let mut s0 = [_mm512_setzero_si512(); R];
                let mut s1 = [_mm512_setzero_si512(); R];
                for p in 0..4 {
                    let v = _mm512_loadu_si512(codes.add(64 * p) as *const _);
                    let mut w0 = _mm512_and_si512(v, low);
                    let mut w1 = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
                    if FIVE {
                        let h = rec.add(K45_HI + 8 * (8 * j + 2 * p)) as *const u64;
                        let k0 = _cvtu64_mask64(std::ptr::read_unaligned(h));
                        let k1 = _cvtu64_mask64(std::ptr::read_unaligned(h.add(1)));
                        w0 = _mm512_mask_add_epi8(w0, k0, w0, sixteen);
                        w1 = _mm512_mask_add_epi8(w1, k1, w1, sixteen);
                    }
                    for i in 0..R {
                        let q = &a[i].q;
                        s0[i] = _mm512_dpbusd_epi32(s0[i], w0, broadcast4_k(q, 32 * j + 8 * p));
                        s1[i] = _mm512_dpbusd_epi32(s1[i], w1, broadcast4_k(q, 32 * j + 8 * p + 4));
                    }
                }
                let sc = lanes_u8(rec.add(K45_SCALES + 16 * j));
                let m = lanes_u8(rec.add(K45_MINS + 16 * j));
                for i in 0..R {
                    let s = _mm512_add_epi32(s0[i], s1[i]);
                    isum[i] = _mm512_add_epi32(isum[i], _mm512_mullo_epi32(s, sc));
                    let a = a[i];
                    let bsum = a.bsums[2 * j] as i32 + a.bsums[2 * j + 1] as i32;
                    msum[i] =
                        _mm512_add_epi32(msum[i], _mm512_mullo_epi32(m, _mm512_set1_epi32(bsum)));
                }
            }
            let d = _mm512_cvtph_ps(_mm256_loadu_si256(rec as *const __m256i));
            let dmin = _mm512_cvtph_ps(_mm256_loadu_si256(rec.add(K45_DMIN) as *const __m256i));
            for i in 0..R {
                let da = _mm512_set1_ps(a[i].d);
                acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[i]), _mm512_mul_ps(d, da), acc[i]);
                acc[i] =
                    _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum[i]), _mm512_mul_ps(dmin, da), acc[i]);
            }
        }
        acc
    }
}

/// The 16 rows' dot products with each of the `R` activation rows for Q6_K.
///
/// # Safety
/// As [`group_dot_k`], with `f` = `KForm::K6`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn k6<const R: usize>(recs: &[u8], record: usize, acts: [&[Q8KBlock]; R]) -> [__m512; R] {
    // SAFETY: record b < acts[i].len() starts at b·record inside `recs`, and the reads stay in
    // it: d (32 bytes), scales (16 bytes per sub-block i < 16), the masks (two per (i, o < 4))
    // and the codes (128 bytes per sub-block); activation codes 16i + 4o.. < 256.
    unsafe {
        let codes_at = KForm::K6.codes_at();
        let low = _mm512_set1_epi8(0x0f);
        let (b16, b32) = (_mm512_set1_epi8(16), _mm512_set1_epi8(32));
        let mut acc = [_mm512_setzero_ps(); R];
        // b indexes every row's block b (acts[i][b]) and record b together.
        #[allow(clippy::needless_range_loop)]
        for b in 0..acts[0].len() {
            let rec = recs.as_ptr().add(b * record);
            prefetch_record(rec, record);
            let a: [&Q8KBlock; R] = std::array::from_fn(|i| &acts[i][b]);
            let mut isum = [_mm512_setzero_si512(); R];
            for i in 0..16 {
                let codes = rec.add(codes_at + 128 * i);
                // The −32 offset of every code, as −32·Σa, starts the integer sum.
                let mut s: [__m512i; R] =
                    std::array::from_fn(|r| _mm512_set1_epi32(-32 * a[r].bsums[i] as i32));
                for p in 0..2 {
                    let v = _mm512_loadu_si512(codes.add(64 * p) as *const _);
                    let mut w = [
                        _mm512_and_si512(v, low),
                        _mm512_and_si512(_mm512_srli_epi16(v, 4), low),
                    ];
                    for (h, w) in w.iter_mut().enumerate() {
                        let o = 2 * p + h;
                        let m = rec.add(K6_HI + 16 * (4 * i + o)) as *const u64;
                        let k4 = _cvtu64_mask64(std::ptr::read_unaligned(m));
                        let k5 = _cvtu64_mask64(std::ptr::read_unaligned(m.add(1)));
                        *w = _mm512_mask_add_epi8(*w, k4, *w, b16);
                        *w = _mm512_mask_add_epi8(*w, k5, *w, b32);
                        for r in 0..R {
                            let q = &a[r].q;
                            s[r] = _mm512_dpbusd_epi32(s[r], *w, broadcast4_k(q, 16 * i + 4 * o));
                        }
                    }
                }
                let sc = _mm512_cvtepi8_epi32(_mm_loadu_si128(
                    rec.add(K6_SCALES + 16 * i) as *const __m128i
                ));
                for r in 0..R {
                    isum[r] = _mm512_add_epi32(isum[r], _mm512_mullo_epi32(s[r], sc));
                }
            }
            let d = _mm512_cvtph_ps(_mm256_loadu_si256(rec as *const __m256i));
            for r in 0..R {
                acc[r] = _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(isum[r]),
                    _mm512_mul_ps(d, _mm512_set1_ps(a[r].d)),
                    acc[r],
                );
            }
        }
        acc
    }
}
