//! Linear layers and token embeddings over one weight representation, so the same modules serve
//! dense safetensors weights, GGUF files and weights quantized at load without a second copy of
//! each model:
//! - dense f32 weights on the CPU are packed once for this project's GEMM; other dense weights
//!   (GPU, f16/bf16 compute) use candle's;
//! - quantized weights on the CPU use this project's kernels (`smolvlm-kernels`: SIMD picked at
//!   run time, a persistent thread pool, weights read straight from the memory-mapped file);
//! - quantized weights on CUDA/Metal use candle's device kernels (`QMatMul`).

use candle_core::quantized::{GgmlDType, QMatMul};
use candle_core::{CpuStorage, DType, Module, Result, Storage, Tensor};
use smolvlm_kernels::{QWeight, WeightType};

use std::sync::Arc;

use smolvlm_kernels::gemm::{BMatrix, PackedB, Precision};

use super::cpu_ops::{PackedMatMul, QuantizedMatMul, on_cpu_f32};

#[derive(Debug, Clone)]
pub enum LinearWeight {
    Dense(Tensor),
    /// A dense f32 weight on the CPU, packed for this project's GEMM (the only copy kept).
    Packed(Arc<PackedB>),
    Cpu(QWeight),
    Device(QMatMul),
}

impl LinearWeight {
    /// The form a layer computes with: dense f32 weights on the CPU are packed for the GEMM, for
    /// products of `precision` (see [`Weights::precision`](super::weights::Weights::precision)).
    pub fn for_compute(self, precision: Precision) -> Result<Self> {
        match self {
            LinearWeight::Dense(t) if on_cpu_f32(&t) => {
                let (n, k) = t.dims2()?;
                let t = t.contiguous()?;
                // Packed straight from the tensor's storage: no third copy of the matrix at load.
                let (storage, layout) = t.storage_and_layout();
                let (Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) =
                    (&*storage, layout.contiguous_offsets())
                else {
                    candle_core::bail!("a contiguous f32 CPU weight was expected");
                };
                let b = BMatrix::Nk {
                    data: &data[start..end],
                    ld: k,
                };
                let packed = PackedB::with_precision(n, k, b, precision);
                Ok(LinearWeight::Packed(Arc::new(packed)))
            }
            other => Ok(other),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Linear {
    weight: LinearWeight,
    bias: Option<Tensor>,
}

impl Linear {
    /// Whether the weight is quantized and multiplied by this project's CPU kernels.
    pub fn is_quantized_cpu(&self) -> bool {
        matches!(self.weight, LinearWeight::Cpu(_))
    }

    pub fn new(weight: LinearWeight, bias: Option<Tensor>) -> Self {
        Self { weight, bias }
    }

    /// The precision it was packed for ([`Weights::precision`]; f32 for other weights): the
    /// layer's attention products follow it.
    ///
    /// [`Weights::precision`]: super::weights::Weights::precision
    pub fn precision(&self) -> Precision {
        match &self.weight {
            LinearWeight::Packed(p) => p.precision(),
            LinearWeight::Cpu(_) | LinearWeight::Dense(_) | LinearWeight::Device(_) => {
                Precision::F32
            }
        }
    }
}

impl Linear {
    /// The outputs of several layers that read the same input, side by side in one tensor
    /// (…, Σ outᵢ), when they are all bias-free quantized CPU weights: one pass over the
    /// weights, the input quantized once. `None` otherwise: the caller runs them one by one.
    pub fn forward_fused(layers: &[&Linear], xs: &Tensor) -> Result<Option<Tensor>> {
        let weights: Option<Vec<&QWeight>> = layers
            .iter()
            .map(|l| match (&l.weight, &l.bias) {
                (LinearWeight::Cpu(w), None) => Some(w),
                _ => None,
            })
            .collect();
        match weights {
            Some(ws) if !ws.is_empty() => quantized_products(&ws, xs).map(Some),
            _ => Ok(None),
        }
    }
}

/// The quantized kernels take f32 activations; other compute dtypes go through f32.
fn quantized_products(ws: &[&QWeight], xs: &Tensor) -> Result<Tensor> {
    xs.to_dtype(DType::F32)?
        .contiguous()?
        .apply_op1_no_bwd(&QuantizedMatMul(ws))?
        .to_dtype(xs.dtype())
}

impl Module for Linear {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let ys = match &self.weight {
            LinearWeight::Dense(w) => QMatMul::Tensor(w.clone()).forward(xs)?,
            LinearWeight::Packed(w) => {
                let x = xs.to_dtype(DType::F32)?.contiguous()?;
                let ys = match &self.bias {
                    // The bias goes into the product.
                    Some(b) if on_cpu_f32(b) => {
                        let ys = x.apply_op2_no_bwd(&b.contiguous()?, &PackedMatMul(w))?;
                        return ys.to_dtype(xs.dtype());
                    }
                    _ => x.apply_op1_no_bwd(&PackedMatMul(w))?,
                };
                ys.to_dtype(xs.dtype())?
            }
            // The quantized kernels take f32 activations; other compute dtypes go through f32.
            LinearWeight::Cpu(w) => quantized_products(&[w], xs)?,
            LinearWeight::Device(q) => {
                if xs.dtype() != DType::F32 {
                    q.forward(&xs.to_dtype(DType::F32)?)?.to_dtype(xs.dtype())?
                } else {
                    q.forward(xs)?
                }
            }
        };
        match &self.bias {
            Some(b) => ys.broadcast_add(b),
            None => Ok(ys),
        }
    }
}

/// The token embedding matrix; quantized files keep it quantized (rows are dequantized as they
/// are looked up), which is also what the tied output projection then reads.
#[derive(Debug, Clone)]
pub enum TokenEmbedding {
    Dense(Tensor),
    Quantized { weight: QWeight, dtype: DType },
}

impl TokenEmbedding {
    /// Embeddings of `ids` (a 1-D u32 tensor): (len, hidden).
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        match self {
            TokenEmbedding::Dense(t) => t.index_select(ids, 0),
            TokenEmbedding::Quantized { weight, dtype } => {
                let ids = ids.to_vec1::<u32>()?;
                let hidden = weight.cols();
                let mut out = vec![0f32; ids.len() * hidden];
                for (&id, row) in ids.iter().zip(out.chunks_exact_mut(hidden)) {
                    if id as usize >= weight.rows() {
                        candle_core::bail!(
                            "token id {id} is outside the {} embeddings",
                            weight.rows()
                        );
                    }
                    weight.dequantize_row(id as usize, row);
                }
                Tensor::from_vec(out, (ids.len(), hidden), &candle_core::Device::Cpu)?
                    .to_dtype(*dtype)
            }
        }
    }

    /// The same matrix as an output projection (tied embeddings).
    pub fn as_linear(&self) -> Linear {
        let weight = match self {
            TokenEmbedding::Dense(t) => LinearWeight::Dense(t.clone()),
            TokenEmbedding::Quantized { weight, .. } => LinearWeight::Cpu(weight.clone()),
        };
        // A dense table stays row-major for lookups (packing would keep a second copy), so its
        // product is candle's.
        Linear::new(weight, None)
    }
}

/// The kernels' name for a ggml type; `None` for types SmolVLM files do not use.
pub fn weight_type(t: GgmlDType) -> Option<WeightType> {
    Some(match t {
        GgmlDType::F32 => WeightType::F32,
        GgmlDType::F16 => WeightType::F16,
        GgmlDType::BF16 => WeightType::BF16,
        GgmlDType::Q4_0 => WeightType::Q4_0,
        GgmlDType::Q4_1 => WeightType::Q4_1,
        GgmlDType::Q5_0 => WeightType::Q5_0,
        GgmlDType::Q5_1 => WeightType::Q5_1,
        GgmlDType::Q8_0 => WeightType::Q8_0,
        GgmlDType::Q4K => WeightType::Q4K,
        GgmlDType::Q5K => WeightType::Q5K,
        GgmlDType::Q6K => WeightType::Q6K,
        _ => return None,
    })
}
