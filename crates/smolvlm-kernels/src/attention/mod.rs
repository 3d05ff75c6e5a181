//! Scaled dot-product attention on the CPU, fused per (batch, head, block of queries): scores
//! `S = Q·Kᵀ` for the block, softmax in place, `O = P·V`, written straight into the output rows.
//! The unfused form materialises scores for all heads at once (12 × 1024 × 1024 floats, 48 MiB,
//! for a SigLIP tile), copies Q, K, V and O into head-major order, and runs softmax on one thread.
//!
//! Tensors are read through strides, so projections laid out (tokens, heads × head_dim) and a KV
//! cache laid out (heads, tokens, head_dim) are used where they are.

use std::cell::RefCell;
use std::sync::Mutex;

use crate::gemm::{BMatrix, PackedB, Precision, gemm_packed_serial};
use crate::pool::parallel;
use crate::send_ptr::SendPtr;
use crate::vmath::{softmax_scaled, softmax_unnormalized};

mod kv;

pub use kv::{KvElement, SimdKernels};

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

/// Queries per task: a multiple of the AVX-512 kernel's 14 rows (f32), the GEMM's rows per
/// task.
const Q_BLOCK: usize = crate::common::gemm::MC;
/// Queries per task on tiles: a multiple of the tiles' 32 rows.
const Q_BLOCK_TILES: usize = 128;
const _: () = assert!(Q_BLOCK <= Q_BLOCK_TILES);

/// Queries from which K and V are packed for the GEMM; fewer (a decode step) read the cache in
/// place, since packing would copy all of it for a few rows of work.
const PACKED_FROM_QUERIES: usize = 16;

thread_local! {
    static SCORES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
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
        && offset.checked_add(s.q_len) != Some(s.kv_len)
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
        // Checked: a sum that wrapped would pass, and the kernels index through raw pointers.
        let last = (s.batch - 1)
            .checked_mul(st.batch)
            .and_then(|b| b.checked_add((tokens - 1).checked_mul(st.token)?))
            .and_then(|t| t.checked_add((heads - 1).checked_mul(st.head)?))
            .and_then(|h| h.checked_add(s.head_dim));
        if last.is_none_or(|last| last > len) || st.token < s.head_dim {
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
    if !rows_disjoint(&s, os) {
        return Err(AttentionError(format!(
            "output rows of {s:?} overlap with {os:?}"
        )));
    }
    if s.kv_len == 0 {
        return Err(AttentionError("no keys".into()));
    }
    if s.batch == 0 || s.q_len == 0 {
        return Ok(());
    }
    if s.q_len < PACKED_FROM_QUERIES {
        direct(&s, q, qs, k, ks, v, vs, SendPtr::new(out.as_mut_ptr()), os);
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
    let q_block = if s.precision.tiles_at(crate::cpu::SimdLevel::detect()) {
        Q_BLOCK_TILES
    } else {
        Q_BLOCK
    };
    let blocks = s.q_len.div_ceil(q_block);
    let group = s.heads / s.kv_heads;
    let o = SendPtr::new(out.as_mut_ptr());
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
            // SAFETY: `scores` holds rows × keys; the output block (rows i0.., head_dim wide, of
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
            // SAFETY: as above: the block's `rows` output rows of head_dim at `os.token`, from
            // `o_at`, lie in `out` and are this task's alone; the rows scaled are the block's.
            unsafe {
                gemm_packed_serial(
                    rows,
                    s.head_dim,
                    keys,
                    scores,
                    keys,
                    pv,
                    o.add(o_at),
                    os.token,
                );
                for (i, &inv) in inv[..rows].iter().enumerate() {
                    let row = o.slice_mut(o_at + i * os.token, s.head_dim);
                    row.iter_mut().for_each(|v| *v *= inv);
                }
            };
        });
    });
    Ok(())
}

/// Whether the output rows (batch, query, head), each `head_dim` wide, never share an element:
/// the tasks write them through one raw pointer at once, so rows that overlap (a zero batch or
/// head stride, say) would be a data race. Sufficient, and true of every real layout: ordered
/// by stride, each axis steps past everything the axes below it span.
fn rows_disjoint(s: &AttentionShape, os: Strides) -> bool {
    let mut axes = [(s.batch, os.batch), (s.q_len, os.token), (s.heads, os.head)];
    axes.sort_by_key(|&(_, stride)| stride);
    let mut span = Some(s.head_dim);
    for (count, stride) in axes {
        if count <= 1 {
            continue;
        }
        span = span
            .filter(|&span| stride >= span)
            .and_then(|span| (count - 1).checked_mul(stride)?.checked_add(span));
    }
    span.is_some()
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
    o: SendPtr,
    os: Strides,
) {
    let group = s.heads / s.kv_heads;
    let hd = s.head_dim;
    let simd = crate::cpu::SimdLevel::detect() != crate::cpu::SimdLevel::Scalar;
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
                // SAFETY: row i of head h in batch b is this task's alone (one task per (b, h)),
                // inside `out` (`fits` checked it in the caller).
                let out = unsafe { o.slice_mut(b * os.batch + i * os.token + h * os.head, hd) };
                let v_rows = &v[b * vs.batch + kvh * vs.head..];
                T::weighted_sum(simd, scores, v_rows, vs.token, out);
            }
        });
    });
}
