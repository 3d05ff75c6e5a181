//! Linear layers and token embeddings over one weight representation, so the same modules serve
//! dense safetensors weights, GGUF files and weights quantized at load without a second copy of
//! each model:
//! - dense f32/f16/bf16 weights use candle's GEMM (exact, and fast for dense types);
//! - quantized weights on the CPU use this project's kernels (`smolvlm-kernels`: SIMD picked at
//!   run time, a persistent thread pool, weights read straight from the memory-mapped file);
//! - quantized weights on CUDA/Metal use candle's device kernels (`QMatMul`).

use candle_core::quantized::{GgmlDType, QMatMul};
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Module, Result, Shape, Tensor};
use smolvlm_kernels::{QWeight, WeightType};

#[derive(Debug, Clone)]
pub enum LinearWeight {
    Dense(Tensor),
    Cpu(QWeight),
    Device(QMatMul),
}

#[derive(Debug, Clone)]
pub struct Linear {
    weight: LinearWeight,
    bias: Option<Tensor>,
}

impl Linear {
    pub fn new(weight: LinearWeight, bias: Option<Tensor>) -> Self {
        Self { weight, bias }
    }
}

impl Module for Linear {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let ys = match &self.weight {
            LinearWeight::Dense(w) => QMatMul::Tensor(w.clone()).forward(xs)?,
            // The quantized kernels take f32 activations; other compute dtypes go through f32.
            LinearWeight::Cpu(w) => {
                let x = xs.to_dtype(DType::F32)?.contiguous()?;
                let m = x.elem_count() / w.cols();
                if m >= DENSE_FROM_ROWS {
                    // A batch (a prompt, image features): dequantizing the matrix once and running
                    // the f32 GEMM costs a fraction of m integer dot products per weight.
                    let dense = Tensor::from_vec(w.dequantize(), (w.rows(), w.cols()), x.device())?;
                    x.broadcast_matmul(&dense.t()?)?.to_dtype(xs.dtype())?
                } else {
                    x.apply_op1_no_bwd(&CpuMatMul(w))?.to_dtype(xs.dtype())?
                }
            }
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

/// Rows of activations from which a quantized product runs as dequantize + f32 GEMM. Below it the
/// integer kernels win: they read the matrix once in its compact form, which is what bounds a
/// decode step.
const DENSE_FROM_ROWS: usize = 16;

struct CpuMatMul<'a>(&'a QWeight);

impl CustomOp1 for CpuMatMul<'_> {
    fn name(&self) -> &'static str {
        "smolvlm-qmatmul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let w = self.0;
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("{}: f32 input expected", self.name());
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("{}: contiguous input expected", self.name());
        };
        let dims = layout.shape().dims();
        if dims.last() != Some(&w.cols()) {
            candle_core::bail!(
                "{}: input {:?} does not end in the weight's {} columns",
                self.name(),
                dims,
                w.cols()
            );
        }
        let x = &data[start..end];
        let mut y = vec![0f32; x.len() / w.cols() * w.rows()];
        w.matmul(x, &mut y);
        let mut out_dims = dims.to_vec();
        *out_dims.last_mut().expect("checked above") = w.rows();
        Ok((CpuStorage::F32(y), Shape::from(out_dims)))
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
