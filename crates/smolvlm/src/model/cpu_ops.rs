//! candle ops backed by this project's CPU kernels (`smolvlm-kernels`): the GEMM of batches, the
//! integer products of single tokens, fused attention and GELU. Each takes f32 CPU tensors; the
//! modules fall back to candle's own ops on other devices and dtypes (see [`on_cpu_f32`]).

use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, InplaceOp1, Layout, Result, Shape, Tensor,
};
use smolvlm_kernels::attention::{AttentionShape, KvElement, Strides};
use smolvlm_kernels::gemm::{BMatrix, PackedB, Precision, gemm, gemm_packed};
use smolvlm_kernels::{QWeight, matmul_many};

/// Whether the kernels here apply: f32 tensors on the CPU.
pub fn on_cpu_f32(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

fn f32_data<'a>(op: &str, storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op}: f32 input expected");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op}: contiguous input expected");
    };
    Ok(&data[start..end])
}

/// `(…, k) → (…, n)`: the rows of `x`, and the output dims with the last one replaced.
fn rows_of(op: &str, layout: &Layout, k: usize, n: usize) -> Result<(usize, Vec<usize>)> {
    let dims = layout.shape().dims();
    if dims.last() != Some(&k) {
        candle_core::bail!("{op}: input {dims:?} does not end in the weight's {k} columns");
    }
    let mut out = dims.to_vec();
    *out.last_mut().expect("dims end in k") = n;
    Ok((layout.shape().elem_count() / k.max(1), out))
}

/// `x · Wᵀ` for a dense weight packed at load; as a two-input op, `x · Wᵀ + bias` with the bias
/// added inside the product (no second pass over the output, no second tensor).
pub struct PackedMatMul<'a>(pub &'a PackedB);

impl PackedMatMul<'_> {
    fn run(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
        bias: Option<&[f32]>,
    ) -> Result<(CpuStorage, Shape)> {
        let w = self.0;
        let x = f32_data("smolvlm-gemm", storage, layout)?;
        let (m, dims) = rows_of("smolvlm-gemm", layout, w.k(), w.n())?;
        if bias.is_some_and(|b| b.len() != w.n()) {
            candle_core::bail!("smolvlm-gemm: bias is not {} long", w.n());
        }
        let mut y = vec![0f32; m * w.n()];
        gemm_packed(m, x, w.k(), w, bias, &mut y, w.n());
        Ok((CpuStorage::F32(y), Shape::from(dims)))
    }
}

impl CustomOp1 for PackedMatMul<'_> {
    fn name(&self) -> &'static str {
        "smolvlm-gemm"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        self.run(storage, layout, None)
    }
}

impl CustomOp2 for PackedMatMul<'_> {
    fn name(&self) -> &'static str {
        "smolvlm-gemm-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let bias = f32_data("smolvlm-gemm-bias", s2, l2)?;
        self.run(s1, l1, Some(bias))
    }
}

/// `x · Wᵢᵀ` for quantized weights sharing an input, their outputs side by side in one tensor
/// (…, Σ nᵢ): integer dot products on 8-bit activations (a decode step reads each W once, in
/// its compact form, in one parallel pass for all of them; a prompt's rows pass over each block
/// of W several at a time where W is interleaved for AVX-512 VNNI — llama.cpp's numerics), else
/// for batches the GEMM with W dequantized panel by panel, in split bf16 (AMX tiles where the
/// CPU has them), whose error is far below the quantization's.
pub struct QuantizedMatMul<'a>(pub &'a [&'a QWeight]);

/// Rows from which the GEMM beats the integer products of weights in the file's layout:
/// dequantizing a panel costs about as much as a dozen integer dot products against it. Weights
/// in the interleaved layout stay on the integer kernels at any rows (`QWeight::integer_prompts`).
const GEMM_FROM_ROWS: usize = 16;

impl CustomOp1 for QuantizedMatMul<'_> {
    fn name(&self) -> &'static str {
        "smolvlm-qmatmul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let ws = self.0;
        let Some(k) = ws.first().map(|w| w.cols()) else {
            candle_core::bail!("{}: no weights", self.name());
        };
        if ws.iter().any(|w| w.cols() != k) {
            candle_core::bail!("{}: weights of different widths", self.name());
        }
        let total: usize = ws.iter().map(|w| w.rows()).sum();
        let x = f32_data(self.name(), storage, layout)?;
        let (m, dims) = rows_of(self.name(), layout, k, total)?;
        let mut y = vec![0f32; m * total];
        if m >= GEMM_FROM_ROWS && !ws.iter().all(|w| w.integer_prompts()) {
            let mut col = 0;
            for w in ws {
                gemm(
                    Precision::SplitBf16,
                    m,
                    w.rows(),
                    k,
                    x,
                    k,
                    BMatrix::Quantized(w),
                    &mut y[col..],
                    total,
                );
                col += w.rows();
            }
        } else {
            matmul_many(ws, x, &mut y);
        }
        Ok((CpuStorage::F32(y), Shape::from(dims)))
    }
}

/// SwiGLU of a fused gate/up product: (…, 2n) → (…, n), `silu(gate) · up`.
struct SwiGlu;

impl CustomOp1 for SwiGlu {
    fn name(&self) -> &'static str {
        "smolvlm-swiglu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_data(self.name(), storage, layout)?;
        let dims = layout.shape().dims();
        let Some(&two_n) = dims.last().filter(|&&d| d % 2 == 0 && d > 0) else {
            candle_core::bail!(
                "{}: {dims:?} does not end in gate and up halves",
                self.name()
            );
        };
        let n = two_n / 2;
        let mut out = vec![0f32; x.len() / 2];
        for (row, o) in x.chunks_exact(two_n).zip(out.chunks_exact_mut(n)) {
            o.copy_from_slice(&row[..n]);
            smolvlm_kernels::vmath::silu_mul(o, &row[n..]);
        }
        let mut out_dims = dims.to_vec();
        *out_dims.last_mut().expect("dims checked above") = n;
        Ok((CpuStorage::F32(out), Shape::from(out_dims)))
    }
}

/// `silu(gate) · up` from `gate_up` (…, 2n), the gate in the first half: one pass on CPU f32,
/// candle's ops elsewhere.
pub fn swiglu(gate_up: &Tensor) -> Result<Tensor> {
    if on_cpu_f32(gate_up) {
        return gate_up.contiguous()?.apply_op1_no_bwd(&SwiGlu);
    }
    let n = gate_up.dim(candle_core::D::Minus1)? / 2;
    let gate = gate_up.narrow(candle_core::D::Minus1, 0, n)?;
    let up = gate_up.narrow(candle_core::D::Minus1, n, n)?;
    candle_nn::ops::silu(&gate)? * up
}

/// GELU, tanh approximation, in place.
pub struct GeluTanh;

impl InplaceOp1 for GeluTanh {
    fn name(&self) -> &'static str {
        "smolvlm-gelu-tanh"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("{}: f32 input expected", self.name());
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("{}: contiguous input expected", self.name());
        };
        smolvlm_kernels::vmath::gelu_tanh(&mut data[start..end]);
        Ok(())
    }
}

/// Scaled dot-product attention over `q` (batch, q_len, heads, head_dim) and `k`, `v` (batch,
/// kv_len, kv_heads, head_dim), any strides with head_dim contiguous: (batch, q_len, heads ·
/// head_dim). `causal_offset`: the cached tokens before the queries, for a causal mask;
/// `precision`: that of the layer's weights (attention is no more exact than its projections).
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    causal_offset: Option<usize>,
    scale: f64,
    precision: Precision,
) -> Result<Tensor> {
    q.apply_op3_no_bwd(
        k,
        v,
        &FusedAttention {
            causal_offset,
            scale: scale as f32,
            precision,
        },
    )
}

struct FusedAttention {
    causal_offset: Option<usize>,
    scale: f32,
    precision: Precision,
}

/// A (batch, tokens, heads, head_dim) view: its data from the start offset, and strides.
fn heads_view<'a, T>(
    op: &str,
    data: &'a [T],
    layout: &Layout,
) -> Result<(&'a [T], [usize; 4], Strides)> {
    let dims: [usize; 4] = layout
        .shape()
        .dims()
        .try_into()
        .map_err(|_| candle_core::Error::Msg(format!("{op}: 4-D input expected")))?;
    let st = layout.stride();
    if st[3] != 1 && dims[3] > 1 {
        candle_core::bail!("{op}: head_dim must be contiguous, strides {st:?}");
    }
    let strides = Strides {
        batch: st[0],
        token: st[1],
        head: st[2],
    };
    Ok((&data[layout.start_offset()..], dims, strides))
}

impl FusedAttention {
    /// Attention with K and V stored as `T` (f32, or an f16 KV cache).
    #[allow(clippy::too_many_arguments)]
    fn run<T: KvElement>(
        &self,
        q: &[f32],
        ql: &Layout,
        k: &[T],
        kl: &Layout,
        v: &[T],
        vl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (q, [b, q_len, heads, hd], q_st) = heads_view(self.name(), q, ql)?;
        let (k, [kb, kv_len, kv_heads, khd], k_st) = heads_view(self.name(), k, kl)?;
        let (v, vdims, v_st) = heads_view(self.name(), v, vl)?;
        if kb != b || khd != hd || vdims != [kb, kv_len, kv_heads, khd] {
            candle_core::bail!(
                "{}: q {:?}, k {:?}, v {:?} do not match",
                self.name(),
                ql.dims(),
                kl.dims(),
                vl.dims()
            );
        }
        let shape = AttentionShape {
            batch: b,
            heads,
            kv_heads,
            head_dim: hd,
            q_len,
            kv_len,
            causal_offset: self.causal_offset,
            scale: self.scale,
            precision: self.precision,
        };
        let mut out = vec![0f32; b * q_len * heads * hd];
        let out_st = Strides {
            batch: q_len * heads * hd,
            token: heads * hd,
            head: hd,
        };
        smolvlm_kernels::attention::attention(&shape, q, q_st, k, k_st, v, v_st, &mut out, out_st)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        Ok((CpuStorage::F32(out), Shape::from((b, q_len, heads * hd))))
    }
}

impl CustomOp3 for FusedAttention {
    fn name(&self) -> &'static str {
        "smolvlm-attention"
    }

    fn cpu_fwd(
        &self,
        qs: &CpuStorage,
        ql: &Layout,
        ks: &CpuStorage,
        kl: &Layout,
        vs: &CpuStorage,
        vl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        match (qs, ks, vs) {
            (CpuStorage::F32(q), CpuStorage::F32(k), CpuStorage::F32(v)) => {
                self.run(q, ql, k, kl, v, vl)
            }
            (CpuStorage::F32(q), CpuStorage::F16(k), CpuStorage::F16(v)) => {
                self.run(q, ql, k, kl, v, vl)
            }
            _ => candle_core::bail!(
                "{}: f32 queries with f32 or f16 keys and values expected",
                self.name()
            ),
        }
    }
}
