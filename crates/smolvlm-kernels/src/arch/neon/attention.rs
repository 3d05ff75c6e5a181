//! The few-query attention kernels on AArch64 NEON (see `crate::arch::avx2::attention` for the
//! shape): scores four keys at a time, values summed in registers a 64-wide slice at a time.
//! The portable ones are in `crate::attention::kv`.

use half::f16;
use std::arch::aarch64::*;

/// Four f32 from `p`.
///
/// # Safety
/// `p` has 4 readable floats.
#[inline(always)]
unsafe fn load_f32(p: *const f32) -> float32x4_t {
    // SAFETY: 4 readable floats (the caller's contract); NEON is baseline on AArch64.
    unsafe { vld1q_f32(p) }
}

/// Four f16 as f32. The f16 vector types are not stable in this toolchain; `fcvtl` (base
/// AArch64, no FP16 extension needed) is written out.
///
/// # Safety
/// `p` has 4 readable halves.
#[inline(always)]
unsafe fn load_f16(p: *const f16) -> float32x4_t {
    // SAFETY: 8 readable bytes (the caller's contract); `fcvtl` only reads and writes the
    // named vector registers.
    unsafe {
        let h = vld1_u16(p as *const u16);
        let out: float32x4_t;
        std::arch::asm!(
            "fcvtl {out:v}.4s, {h:v}.4h",
            out = out(vreg) out,
            h = in(vreg) h,
            options(pure, nomem, nostack, preserves_flags)
        );
        out
    }
}

macro_rules! kernels {
    ($t:ty, $load:ident, $scores:ident, $weighted:ident) => {
        /// `out[j] = q · rows[j]` for j < n.
        ///
        /// # Safety
        /// The CPU has NEON; rows `0..n` of `q.len()` at `stride` lie in `rows`.
        #[target_feature(enable = "neon")]
        pub(crate) unsafe fn $scores(
            q: &[f32],
            rows: &[$t],
            stride: usize,
            n: usize,
            out: &mut [f32],
        ) {
            let hd = q.len();
            let full = hd / 4 * 4;
            let (qp, rp) = (q.as_ptr(), rows.as_ptr());
            let tail = |j: usize| -> f32 {
                (full..hd)
                    .map(|d| q[d] * f32::from(rows[j * stride + d]))
                    .sum()
            };
            let mut j = 0;
            // SAFETY: rows j < n start at `j · stride` and `full ≤ q.len()` of each is read,
            // inside `rows` (the contract); `q` is read below `full`.
            unsafe {
                while j + 4 <= n {
                    let r = [0, 1, 2, 3].map(|i| rp.add((j + i) * stride));
                    let mut acc = [vdupq_n_f32(0.0); 4];
                    let mut d = 0;
                    while d < full {
                        let qv = vld1q_f32(qp.add(d));
                        for i in 0..4 {
                            acc[i] = vfmaq_f32(acc[i], qv, $load(r[i].add(d)));
                        }
                        d += 4;
                    }
                    for i in 0..4 {
                        out[j + i] = vaddvq_f32(acc[i]) + tail(j + i);
                    }
                    j += 4;
                }
                while j < n {
                    let r = rp.add(j * stride);
                    let mut acc = vdupq_n_f32(0.0);
                    let mut d = 0;
                    while d < full {
                        acc = vfmaq_f32(acc, vld1q_f32(qp.add(d)), $load(r.add(d)));
                        d += 4;
                    }
                    out[j] = vaddvq_f32(acc) + tail(j);
                    j += 1;
                }
            }
        }

        /// `out = Σⱼ p[j] · rows[j]`.
        ///
        /// # Safety
        /// The CPU has NEON; rows `0..p.len()` of `out.len()` at `stride` lie in `rows`.
        #[target_feature(enable = "neon")]
        pub(crate) unsafe fn $weighted(p: &[f32], rows: &[$t], stride: usize, out: &mut [f32]) {
            let hd = out.len();
            let full = hd / 4 * 4;
            let rp = rows.as_ptr();
            let mut c0 = 0;
            // SAFETY: rows j < p.len() start at `j · stride`, and columns c0 + 4v < full ≤
            // out.len() of each are read, inside `rows` (the contract); `out` is written below
            // `full`.
            unsafe {
                while c0 < full {
                    let width = (full - c0).min(64) / 4;
                    let mut acc = [vdupq_n_f32(0.0); 16];
                    for (j, &pj) in p.iter().enumerate() {
                        let r = rp.add(j * stride + c0);
                        for (v, a) in acc.iter_mut().enumerate().take(width) {
                            *a = vfmaq_n_f32(*a, $load(r.add(4 * v)), pj);
                        }
                    }
                    for (v, a) in acc.iter().enumerate().take(width) {
                        vst1q_f32(out.as_mut_ptr().add(c0 + 4 * v), *a);
                    }
                    c0 += 4 * width;
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
