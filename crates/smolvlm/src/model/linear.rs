//! A linear layer whose weight is a `QMatMul`, so the same module serves dense safetensors weights
//! today and quantized (GGUF or quantized-at-load) weights without a second copy of each model.

use candle_core::quantized::QMatMul;
use candle_core::{DType, Module, Result, Tensor};

#[derive(Debug, Clone)]
pub struct Linear {
    weight: QMatMul,
    bias: Option<Tensor>,
}

impl Linear {
    pub fn new(weight: QMatMul, bias: Option<Tensor>) -> Self {
        Self { weight, bias }
    }
}

impl Module for Linear {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        // candle's quantized kernels take f32 activations; other compute dtypes go through f32.
        let ys = match &self.weight {
            QMatMul::QTensor(_) if xs.dtype() != DType::F32 => self
                .weight
                .forward(&xs.to_dtype(DType::F32)?)?
                .to_dtype(xs.dtype())?,
            _ => self.weight.forward(xs)?,
        };
        match &self.bias {
            Some(b) => ys.broadcast_add(b),
            None => Ok(ys),
        }
    }
}
