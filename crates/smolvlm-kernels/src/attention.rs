//! Scaled dot-product attention on the CPU, fused per (batch, head, block of queries): scores
//! `S = Q·Kᵀ` for the block, softmax in place, `O = P·V`, written straight into the output rows.
//! The unfused form materialises scores for all heads at once (12 × 1024 × 1024 floats, 48 MiB,
//! for a SigLIP tile), copies Q, K, V and O into head-major order, and runs softmax on one thread.
//!
//! Tensors are read through strides, so projections laid out (tokens, heads × head_dim) and a KV
//! cache laid out (heads, tokens, head_dim) are used where they are.

use std::borrow::Cow;
use std::cell::RefCell;

use half::f16;

use std::sync::Mutex;

use crate::gemm::{BMatrix, PackedB, Precision, gemm_packed_serial};
use crate::pool::parallel;
use crate::vmath::{softmax_scaled, softmax_unnormalized};

/// Where element (batch b, token t, head h, d) of a tensor is: `b·batch + t·token + h·head + d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strides {
    pub batch: usize,
    pub token: usize,
    pub head: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct AttentionShape {
    pub batch: usize,
    pub heads: usize,
    /// Heads of K and V; query head h reads kv head `h / (heads / kv_heads)` (grouped queries).
    pub kv_heads: usize,
    pub head_dim: usize,
    pub q_len: usize,
    pub kv_len: usize,
    /// Causal with this many earlier tokens: query i sees keys `0..=offset + i`. `None`: every
    /// query sees every key (the vision encoder).
    pub causal_offset: Option<usize>,
    pub scale: f32,
    /// Of the two products (Q·Kᵀ, P·V) when queries come in blocks.
    pub precision: Precision,
}

#[derive(Debug, thiserror::Error)]
#[error("attention: {0}")]
pub struct AttentionError(String);

/// Queries per task: a multiple of the AVX-512 kernel's 14 rows (f32), or of the tiles' 32.
const Q_BLOCK: usize = 112;
const Q_BLOCK_TILES: usize = 128;
const _: () = assert!(Q_BLOCK <= Q_BLOCK_TILES);

/// Queries from which K and V are packed for the GEMM; fewer (a decode step) read the cache in
/// place, since packing would copy all of it for a few rows of work.
const PACKED_FROM_QUERIES: usize = 16;

thread_local! {
    static SCORES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// Safety: tasks write disjoint (batch, head, query block) parts of the output.
unsafe impl Sync for OutPtr {}
unsafe impl Send for OutPtr {}

impl OutPtr {
    fn at(self, i: usize) -> *mut f32 {
        // Safety: callers stay inside the output buffer.
        unsafe { self.0.add(i) }
    }
}

/// Runs attention into `out`, on the kernel thread pool: each (batch, kv head)'s K and V are
/// packed once, then every (batch, head, query block) is a task.
#[allow(clippy::too_many_arguments)]
pub fn attention<T: KvElement>(
    shape: &AttentionShape,
    q: &[f32],
    qs: Strides,
    k: &[T],
    ks: Strides,
    v: &[T],
    vs: Strides,
    out: &mut [f32],
    os: Strides,
) -> Result<(), AttentionError> {
    let s = *shape;
    if s.heads == 0 || s.kv_heads == 0 || !s.heads.is_multiple_of(s.kv_heads) {
        return Err(AttentionError(format!(
            "{} query heads over {} kv heads",
            s.heads, s.kv_heads
        )));
    }
    if let Some(offset) = s.causal_offset
        && offset + s.q_len != s.kv_len
    {
        return Err(AttentionError(format!(
            "{} queries after {offset} cached tokens, but {} keys",
            s.q_len, s.kv_len
        )));
    }
    let fits = |len: usize, st: Strides, heads: usize, tokens: usize, name: &str| {
        if s.batch == 0 || tokens == 0 {
            return Ok(());
        }
        let last =
            (s.batch - 1) * st.batch + (tokens - 1) * st.token + (heads - 1) * st.head + s.head_dim;
        if last > len || st.token < s.head_dim {
            return Err(AttentionError(format!(
                "{name} of {len} floats does not fit {s:?} with {st:?}"
            )));
        }
        Ok(())
    };
    fits(q.len(), qs, s.heads, s.q_len, "Q")?;
    fits(k.len(), ks, s.kv_heads, s.kv_len, "K")?;
    fits(v.len(), vs, s.kv_heads, s.kv_len, "V")?;
    fits(out.len(), os, s.heads, s.q_len, "O")?;
    if s.kv_len == 0 {
        return Err(AttentionError("no keys".into()));
    }
    if s.batch == 0 || s.q_len == 0 {
        return Ok(());
    }
    if s.q_len < PACKED_FROM_QUERIES {
        direct(&s, q, qs, k, ks, v, vs, OutPtr(out.as_mut_ptr()), os);
        return Ok(());
    }
    // K as the n × k operand of Q·Kᵀ, V as the k × n operand of P·V.
    let kv_pairs = s.batch * s.kv_heads;
    let packed: Vec<Mutex<(PackedB, PackedB)>> =
        (0..kv_pairs).map(|_| Default::default()).collect();
    parallel(kv_pairs, &|t| {
        let (b, kvh) = (t / s.kv_heads, t % s.kv_heads);
        let k_at = b * ks.batch + kvh * ks.head;
        let v_at = b * vs.batch + kvh * vs.head;
        let mut pair = packed[t].lock().unwrap_or_else(|e| e.into_inner());
        let (k, k_ld) = T::rows_f32(&k[k_at..], s.kv_len, s.head_dim, ks.token);
        pair.0 = PackedB::new_serial(
            s.kv_len,
            s.head_dim,
            BMatrix::Nk { data: &k, ld: k_ld },
            s.precision,
        );
        let (v, v_ld) = T::rows_f32(&v[v_at..], s.kv_len, s.head_dim, vs.token);
        pair.1 = PackedB::new_serial(
            s.head_dim,
            s.kv_len,
            BMatrix::Kn { data: &v, ld: v_ld },
            s.precision,
        );
    });
    let packed: Vec<(PackedB, PackedB)> = packed
        .into_iter()
        .map(|p| p.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect();
    let q_block = if s.precision.tiles_at(crate::SimdLevel::detect()) {
        Q_BLOCK_TILES
    } else {
        Q_BLOCK
    };
    let blocks = s.q_len.div_ceil(q_block);
    let group = s.heads / s.kv_heads;
    let o = OutPtr(out.as_mut_ptr());
    parallel(s.batch * s.heads * blocks, &|t| {
        let (b, h, blk) = (t / (s.heads * blocks), t / blocks % s.heads, t % blocks);
        let (pk, pv) = &packed[b * s.kv_heads + h / group];
        let i0 = blk * q_block;
        let rows = q_block.min(s.q_len - i0);
        // Keys the block's last query sees; earlier queries' extra scores are zeroed by softmax.
        let keys = s.causal_offset.map_or(s.kv_len, |off| off + i0 + rows);
        let q_at = b * qs.batch + i0 * qs.token + h * qs.head;
        let o_at = b * os.batch + i0 * os.token + h * os.head;
        SCORES.with_borrow_mut(|scores| {
            scores.resize(rows * keys, 0.0);
            // Safety: `scores` holds rows × keys; the output block (rows i0.., head_dim wide, of
            // head h in batch b) is this task's alone, and `fits` checked it lies in `out`.
            unsafe {
                gemm_packed_serial(
                    rows,
                    keys,
                    s.head_dim,
                    &q[q_at..],
                    qs.token,
                    pk,
                    scores.as_mut_ptr(),
                    keys,
                );
            }
            // Each row's 1 / Σ is applied to its head_dim outputs instead of its keys.
            let mut inv = [0f32; Q_BLOCK_TILES];
            for (i, row) in scores.chunks_exact_mut(keys).enumerate() {
                let live = s.causal_offset.map_or(keys, |off| off + i0 + i + 1);
                inv[i] = softmax_unnormalized(row, live, s.scale);
            }
            // Safety: as above; the rows scaled are the block's own.
            unsafe {
                gemm_packed_serial(
                    rows,
                    s.head_dim,
                    keys,
                    scores,
                    keys,
                    pv,
                    o.at(o_at),
                    os.token,
                );
                for (i, &inv) in inv[..rows].iter().enumerate() {
                    let row = std::slice::from_raw_parts_mut(o.at(o_at + i * os.token), s.head_dim);
                    row.iter_mut().for_each(|v| *v *= inv);
                }
            };
        });
    });
    Ok(())
}

/// Attention for a few queries straight from the strided tensors: per (batch, head), the scores
/// of each query against every visible key, softmax, and the weighted sum of values.
#[allow(clippy::too_many_arguments)]
fn direct<T: KvElement>(
    s: &AttentionShape,
    q: &[f32],
    qs: Strides,
    k: &[T],
    ks: Strides,
    v: &[T],
    vs: Strides,
    o: OutPtr,
    os: Strides,
) {
    let group = s.heads / s.kv_heads;
    let hd = s.head_dim;
    let simd = crate::SimdLevel::detect() != crate::SimdLevel::Scalar;
    parallel(s.batch * s.heads, &|t| {
        let (b, h) = (t / s.heads, t % s.heads);
        let kvh = h / group;
        SCORES.with_borrow_mut(|scores| {
            for i in 0..s.q_len {
                let live = s.causal_offset.map_or(s.kv_len, |off| off + i + 1);
                let qi = &q[b * qs.batch + i * qs.token + h * qs.head..][..hd];
                scores.resize(live, 0.0);
                let k_rows = &k[b * ks.batch + kvh * ks.head..];
                T::scores(simd, qi, k_rows, ks.token, live, scores);
                softmax_scaled(scores, live, s.scale);
                // Safety: row i of head h in batch b is this task's alone, inside `out`
                // (checked by the caller).
                let out = unsafe {
                    std::slice::from_raw_parts_mut(
                        o.at(b * os.batch + i * os.token + h * os.head),
                        hd,
                    )
                };
                let v_rows = &v[b * vs.batch + kvh * vs.head..];
                T::weighted_sum(simd, scores, v_rows, vs.token, out);
            }
        });
    });
}

/// What keys and values may be stored as: f32, or f16 (a KV cache at half the memory, as
/// llama.cpp keeps it).
pub trait KvElement: Copy + Send + Sync + 'static {
    /// This element's vector kernels (AVX2/FMA/F16C, or NEON), where the target has them.
    #[doc(hidden)]
    const SIMD: Option<SimdKernels<Self>>;

    /// `rows` rows of `width` at stride `ld` as f32 rows, and their stride: borrowed where
    /// they already are f32, widened otherwise.
    fn rows_f32(x: &[Self], rows: usize, width: usize, ld: usize) -> (Cow<'_, [f32]>, usize);

    fn to_f32(self) -> f32;

    /// `out[j] = q · rows[j]` for `n` rows of `q.len()` at `stride` elements; `simd`: the CPU
    /// has the features of [`Self::SIMD`]'s kernels (detected by the caller).
    fn scores(simd: bool, q: &[f32], rows: &[Self], stride: usize, n: usize, out: &mut [f32]) {
        assert!(
            n == 0 || rows.len() >= (n - 1) * stride + q.len(),
            "attention rows"
        );
        match Self::SIMD {
            // Safety: the caller detected the features; the rows are in bounds (above).
            Some(k) if simd => unsafe { (k.scores)(q, rows, stride, n, out) },
            _ => scores_portable(q, rows, stride, n, out),
        }
    }

    /// `out = Σⱼ p[j] · rows[j]` for `p.len()` rows of `out.len()` at `stride` elements.
    fn weighted_sum(simd: bool, p: &[f32], rows: &[Self], stride: usize, out: &mut [f32]) {
        let n = p.len();
        assert!(
            n == 0 || rows.len() >= (n - 1) * stride + out.len(),
            "attention rows"
        );
        match Self::SIMD {
            // Safety: as above.
            Some(k) if simd => unsafe { (k.weighted_sum)(p, rows, stride, out) },
            _ => weighted_sum_portable(p, rows, stride, out),
        }
    }
}

/// The vector kernels of one K/V element type (see the `x86` module).
#[doc(hidden)]
pub struct SimdKernels<T: 'static> {
    scores: unsafe fn(&[f32], &[T], usize, usize, &mut [f32]),
    weighted_sum: unsafe fn(&[f32], &[T], usize, &mut [f32]),
}

// Manual impls: a derive would require `T: Copy`, which the function pointers do not need.
impl<T> Clone for SimdKernels<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SimdKernels<T> {}

fn scores_portable<T: KvElement>(q: &[f32], rows: &[T], stride: usize, n: usize, out: &mut [f32]) {
    for (j, o) in out[..n].iter_mut().enumerate() {
        let row = &rows[j * stride..j * stride + q.len()];
        // 8 independent lanes, which the compiler vectorizes (a plain float sum must keep its
        // order, so it would not be).
        let mut lanes = [0f32; 8];
        for (qc, rc) in q.chunks(8).zip(row.chunks(8)) {
            for (l, (&a, &b)) in qc.iter().zip(rc).enumerate() {
                lanes[l] += a * b.to_f32();
            }
        }
        *o = lanes.iter().sum();
    }
}

fn weighted_sum_portable<T: KvElement>(p: &[f32], rows: &[T], stride: usize, out: &mut [f32]) {
    out.fill(0.0);
    for (j, &pj) in p.iter().enumerate() {
        let row = &rows[j * stride..j * stride + out.len()];
        out.iter_mut()
            .zip(row)
            .for_each(|(o, x)| *o += pj * x.to_f32());
    }
}

impl KvElement for f32 {
    #[cfg(target_arch = "x86_64")]
    const SIMD: Option<SimdKernels<f32>> = Some(SimdKernels {
        scores: x86::scores_f32,
        weighted_sum: x86::weighted_sum_f32,
    });
    #[cfg(target_arch = "aarch64")]
    const SIMD: Option<SimdKernels<f32>> = Some(SimdKernels {
        scores: neon::scores_f32,
        weighted_sum: neon::weighted_sum_f32,
    });
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    const SIMD: Option<SimdKernels<f32>> = None;

    fn rows_f32(x: &[f32], _: usize, _: usize, ld: usize) -> (Cow<'_, [f32]>, usize) {
        (Cow::Borrowed(x), ld)
    }

    fn to_f32(self) -> f32 {
        self
    }
}

impl KvElement for f16 {
    #[cfg(target_arch = "x86_64")]
    const SIMD: Option<SimdKernels<f16>> = Some(SimdKernels {
        scores: x86::scores_f16,
        weighted_sum: x86::weighted_sum_f16,
    });
    #[cfg(target_arch = "aarch64")]
    const SIMD: Option<SimdKernels<f16>> = Some(SimdKernels {
        scores: neon::scores_f16,
        weighted_sum: neon::weighted_sum_f16,
    });
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    const SIMD: Option<SimdKernels<f16>> = None;

    fn rows_f32(x: &[f16], rows: usize, width: usize, ld: usize) -> (Cow<'_, [f32]>, usize) {
        let mut out = vec![0f32; rows * width];
        for (r, o) in out.chunks_exact_mut(width).enumerate() {
            half::slice::HalfFloatSliceExt::convert_to_f32_slice(&x[r * ld..r * ld + width], o);
        }
        (Cow::Owned(out), width)
    }

    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

/// Decode-sized attention spends its time here, over 64-wide heads: scores four keys at a time
/// (four independent FMA chains; one chain per key was latency-bound), values summed in
/// registers a 64-wide slice at a time (no load/store of the output per key).
#[cfg(target_arch = "aarch64")]
mod neon;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use half::f16;
    use std::arch::x86_64::*;

    use super::KvElement;

    #[inline(always)]
    unsafe fn load_f32(p: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(p) }
    }

    #[inline(always)]
    unsafe fn load_f16(p: *const f16) -> __m256 {
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)) }
    }

    #[inline(always)]
    unsafe fn hsum(v: __m256) -> f32 {
        unsafe {
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
        }
    }

    macro_rules! kernels {
        ($t:ty, $load:ident, $scores:ident, $weighted:ident) => {
            /// Safety: AVX2, FMA, F16C; rows `0..n` of `q.len()` at `stride` lie in `rows`.
            #[target_feature(enable = "avx2,fma,f16c")]
            pub(super) unsafe fn $scores(
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
                        .map(|d| q[d] * rows[j * stride + d].to_f32())
                        .sum()
                };
                let mut j = 0;
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

            /// Safety: AVX2, FMA, F16C; rows `0..p.len()` of `out.len()` at `stride` lie in
            /// `rows`.
            #[target_feature(enable = "avx2,fma,f16c")]
            pub(super) unsafe fn $weighted(p: &[f32], rows: &[$t], stride: usize, out: &mut [f32]) {
                let hd = out.len();
                let full = hd / 8 * 8;
                let rp = rows.as_ptr();
                let mut c0 = 0;
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
                        .map(|(j, &pj)| pj * rows[j * stride + d].to_f32())
                        .sum();
                }
            }
        };
    }

    kernels!(f32, load_f32, scores_f32, weighted_sum_f32);
    kernels!(f16, load_f16, scores_f16, weighted_sum_f16);
}
