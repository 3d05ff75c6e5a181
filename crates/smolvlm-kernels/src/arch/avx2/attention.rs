//! The few-query attention kernels with AVX2 + FMA + F16C (decode-sized attention spends its
//! time here, over 64-wide heads): scores four keys at a time (four independent FMA chains; one
//! chain per key was latency-bound), values summed in registers a 64-wide slice at a time (no
//! load/store of the output per key). The portable ones are in `crate::attention::kv`.

use half::f16;
use std::arch::x86_64::*;

use super::hsum;

/// Eight f32 from `p`.
///
/// # Safety
/// AVX is enabled where this inlines (this module's kernels); `p` has 8 readable floats.
#[inline(always)]
unsafe fn load_f32(p: *const f32) -> __m256 {
    // SAFETY: 8 readable floats (the caller's contract).
    unsafe { _mm256_loadu_ps(p) }
}

/// Eight f16 from `p`, as f32.
///
/// # Safety
/// F16C is enabled where this inlines (this module's kernels); `p` has 8 readable halves.
#[inline(always)]
unsafe fn load_f16(p: *const f16) -> __m256 {
    // SAFETY: 8 readable halves, 16 bytes (the caller's contract).
    unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)) }
}

macro_rules! kernels {
    ($t:ty, $load:ident, $scores:ident, $weighted:ident) => {
        /// `out[j] = q · rows[j]` for j < n.
        ///
        /// # Safety
        /// The CPU has AVX2, FMA and F16C; rows `0..n` of `q.len()` at `stride` lie in `rows`.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(crate) unsafe fn $scores(
            q: &[f32],
            rows: &[$t],
            stride: usize,
            n: usize,
            out: &mut [f32],
        ) {
            let hd = q.len();
            let full = hd / 8 * 8;
            let (qp, rp) = (q.as_ptr(), rows.as_ptr());
            let tail = |j: usize| -> f32 {
                (full..hd)
                    .map(|d| q[d] * f32::from(rows[j * stride + d]))
                    .sum()
            };
            let mut j = 0;
            // SAFETY: rows j < n start at `j · stride` and `full ≤ q.len()` of each is read, inside
            // `rows` (the contract); `q` is read below `full`.
            unsafe {
                while j + 4 <= n {
                    let r = [0, 1, 2, 3].map(|i| rp.add((j + i) * stride));
                    let mut acc = [_mm256_setzero_ps(); 4];
                    let mut d = 0;
                    while d < full {
                        let qv = _mm256_loadu_ps(qp.add(d));
                        for i in 0..4 {
                            acc[i] = _mm256_fmadd_ps(qv, $load(r[i].add(d)), acc[i]);
                        }
                        d += 8;
                    }
                    for i in 0..4 {
                        out[j + i] = hsum(acc[i]) + tail(j + i);
                    }
                    j += 4;
                }
                while j < n {
                    let r = rp.add(j * stride);
                    let mut acc = _mm256_setzero_ps();
                    let mut d = 0;
                    while d < full {
                        acc = _mm256_fmadd_ps(_mm256_loadu_ps(qp.add(d)), $load(r.add(d)), acc);
                        d += 8;
                    }
                    out[j] = hsum(acc) + tail(j);
                    j += 1;
                }
            }
        }

        /// `out = Σⱼ p[j] · rows[j]`.
        ///
        /// # Safety
        /// The CPU has AVX2, FMA and F16C; rows `0..p.len()` of `out.len()` at `stride` lie in
        /// `rows`.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(crate) unsafe fn $weighted(p: &[f32], rows: &[$t], stride: usize, out: &mut [f32]) {
            let hd = out.len();
            let full = hd / 8 * 8;
            let rp = rows.as_ptr();
            let mut c0 = 0;
            // SAFETY: rows j < p.len() start at `j · stride`, and columns c0 + 8v < full ≤
            // out.len() of each are read, inside `rows` (the contract); `out` is written below
            // `full`.
            unsafe {
                while c0 < full {
                    let width = (full - c0).min(64) / 8;
                    let mut acc = [_mm256_setzero_ps(); 8];
                    for (j, &pj) in p.iter().enumerate() {
                        let pv = _mm256_set1_ps(pj);
                        let r = rp.add(j * stride + c0);
                        for (v, a) in acc.iter_mut().enumerate().take(width) {
                            *a = _mm256_fmadd_ps(pv, $load(r.add(8 * v)), *a);
                        }
                    }
                    for (v, a) in acc.iter().enumerate().take(width) {
                        _mm256_storeu_ps(out.as_mut_ptr().add(c0 + 8 * v), *a);
                    }
                    c0 += 8 * width;
                }
            }
            for d in full..hd {
                out[d] = p
                    .iter()
                    .enumerate()
                    .map(|(j, &pj)| pj * f32::from(rows[j * stride + d]))
                    .sum();
            }
        }
    };
}

kernels!(f32, load_f32, scores_f32, weighted_sum_f32);
kernels!(f16, load_f16, scores_f16, weighted_sum_f16);
