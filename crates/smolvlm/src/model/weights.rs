//! Where the modules' weights come from: a safetensors `VarBuilder` (Hugging Face names) or a
//! llama.cpp GGUF file (text model or mmproj). Modules ask by their Hugging Face name
//! (`model.text_model.layers.3.self_attn.q_proj.weight`); for GGUF the name is translated to
//! llama.cpp's (`blk.3.attn_q.weight`), so every module has one constructor for both.
//!
//! Quantized GGUF weights stay quantized in the linear layers and the token embedding (on the CPU
//! read in place from the memory-mapped file by this project's kernels; on a GPU as candle's
//! `QMatMul`); F32/F16/BF16 linear weights become dense tensors of the compute dtype (candle's
//! dense GEMM is faster and exact). A safetensors model can be quantized as it loads
//! ([`Quantization`]). Norms, biases, the patch and position embeddings are always dense.
//!
//! RoPE: llama.cpp's converter permutes the rows of `attn_q`/`attn_k` within each head so that the
//! pairs rotated together are adjacent (interleaved RoPE, ggml's "normal" mode), where transformers
//! rotates element i with i + head_dim/2. We undo that permutation at load instead of carrying a
//! RoPE-style flag into the attention: rows of a quantized tensor can be moved whole (blocks run
//! along the input dimension), so the quantized values are untouched, the decoder keeps a single
//! code path (rotate-half `rope`), and the keys in the KV cache have the same layout whatever file
//! they came from. The cost is one copy of q/k at load, which happens anyway.

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Result, Shape, Tensor};
use candle_nn::{LayerNorm, RmsNorm, VarBuilder};
use smolvlm_kernels::QWeight;
use smolvlm_kernels::gemm::Precision;

use super::linear::{Linear, LinearWeight, TokenEmbedding, weight_type};
use crate::gguf::GgufFile;
use crate::quant::Quantization;

#[derive(Clone)]
enum Source {
    SafeTensors {
        vb: VarBuilder<'static>,
        quant: Quantization,
    },
    Gguf {
        file: Arc<GgufFile>,
        device: Device,
        dtype: DType,
        /// (query heads, key/value heads) of the decoder, to undo llama.cpp's q/k permutation.
        heads: Option<(usize, usize)>,
    },
}

/// A weight source positioned at a name prefix, like `VarBuilder`.
#[derive(Clone)]
pub struct Weights {
    source: Source,
    prefix: String,
}

impl Weights {
    /// Weights of a safetensors checkpoint; linear layers and the token embedding are quantized
    /// to `quant` as they load (where their width allows it).
    pub fn safetensors(vb: VarBuilder<'static>, quant: Quantization) -> Self {
        Self {
            source: Source::SafeTensors { vb, quant },
            prefix: String::new(),
        }
    }

    /// `heads`: the decoder's (query, key/value) head counts when `file` is a text model.
    pub fn gguf(
        file: Arc<GgufFile>,
        device: &Device,
        dtype: DType,
        heads: Option<(usize, usize)>,
    ) -> Self {
        Self {
            source: Source::Gguf {
                file,
                device: device.clone(),
                dtype,
                heads,
            },
            prefix: String::new(),
        }
    }

    pub fn pp(&self, name: impl AsRef<str>) -> Self {
        Self {
            source: self.source.clone(),
            prefix: self.full(name.as_ref()),
        }
    }

    fn full(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    pub fn device(&self) -> &Device {
        match &self.source {
            Source::SafeTensors { vb, .. } => vb.device(),
            Source::Gguf { device, .. } => device,
        }
    }

    pub fn dtype(&self) -> DType {
        match &self.source {
            Source::SafeTensors { vb, .. } => vb.dtype(),
            Source::Gguf { dtype, .. } => *dtype,
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        let full = self.full(name);
        match &self.source {
            Source::SafeTensors { vb, .. } => vb.contains_tensor(&full),
            Source::Gguf { file, .. } => gguf_name(&full).is_some_and(|n| file.has_tensor(&n)),
        }
    }

    /// A dense tensor of the compute dtype with the given (Hugging Face) shape.
    pub fn tensor(&self, shape: impl Into<Shape>, name: &str) -> Result<Tensor> {
        let shape = shape.into();
        let full = self.full(name);
        match &self.source {
            Source::SafeTensors { vb, .. } => vb.get(shape, &full),
            Source::Gguf { device, dtype, .. } => {
                let (q, gname) = self.gguf_qtensor(&full, &shape)?;
                q.dequantize(device)?
                    .to_dtype(*dtype)
                    .map_err(|e| candle_core::Error::Msg(format!("{gname}: {e}")))
            }
        }
    }

    /// The precision products with tensor `name` need: split bf16 (AMX tiles where the CPU has
    /// them) for the vision tower's and connector's reduced-precision GGUF tensors, whose values
    /// the split holds exactly (f16, bf16) or whose rounding dwarfs it (quantized ones, which
    /// their own kernels multiply anyway); f32 otherwise — safetensors
    /// models (transformers' numerics), f32 tensors, and the decoder, whose decode steps are
    /// single rows: tiles take 32 rows at a time, and one row is memory-bound on f32 panels.
    pub fn precision(&self, name: &str) -> Precision {
        let Source::Gguf { file, .. } = &self.source else {
            return Precision::F32;
        };
        let full = self.full(name);
        let batches_only =
            full.starts_with("model.vision_model.") || full.starts_with("model.connector.");
        match gguf_name(&full).and_then(|n| file.tensor_bytes(&n).ok()) {
            Some((entry, _)) if batches_only && entry.dtype != GgmlDType::F32 => {
                Precision::SplitBf16
            }
            _ => Precision::F32,
        }
    }

    /// `{name}.weight` of shape (out, in) and, when `bias`, `{name}.bias`.
    pub fn linear(&self, in_dim: usize, out_dim: usize, bias: bool, name: &str) -> Result<Linear> {
        let w = self.pp(name);
        let weight = self
            .matrix(in_dim, out_dim, &w.full("weight"))?
            .for_compute(w.precision("weight"))?;
        let bias = if bias {
            Some(w.tensor(out_dim, "bias")?)
        } else {
            None
        };
        Ok(Linear::new(weight, bias))
    }

    /// A weight matrix (out, in) in the representation its layer computes with.
    fn matrix(&self, in_dim: usize, out_dim: usize, full: &str) -> Result<LinearWeight> {
        match &self.source {
            Source::SafeTensors { vb, quant } => {
                let dense = vb.get((out_dim, in_dim), full)?;
                quantize_dense(dense, *quant)
            }
            Source::Gguf { dtype, .. } => {
                let q = match self.gguf_weight(full, &(out_dim, in_dim).into())? {
                    GgufMatrix::Kernel(w) => return Ok(LinearWeight::Cpu(w)),
                    GgufMatrix::Candle(q) => q,
                };
                Ok(match QMatMul::from_qtensor(q)? {
                    QMatMul::Tensor(t) => LinearWeight::Dense(t.to_dtype(*dtype)?),
                    QMatMul::TensorF16(t) => LinearWeight::Dense(t.to_dtype(*dtype)?),
                    q @ QMatMul::QTensor(_) => LinearWeight::Device(q),
                })
            }
        }
    }

    pub fn rms_norm(&self, size: usize, eps: f64, name: &str) -> Result<RmsNorm> {
        Ok(RmsNorm::new(self.pp(name).tensor(size, "weight")?, eps))
    }

    pub fn layer_norm(&self, size: usize, eps: f64, name: &str) -> Result<LayerNorm> {
        let w = self.pp(name);
        Ok(LayerNorm::new(
            w.tensor(size, "weight")?,
            w.tensor(size, "bias")?,
            eps,
        ))
    }

    /// The token embedding `{name}.weight` (vocab, hidden), kept quantized where the linear
    /// layers are (it is also the tied output projection).
    pub fn embedding(&self, vocab: usize, hidden: usize, name: &str) -> Result<TokenEmbedding> {
        let full = self.pp(name).full("weight");
        let dtype = self.dtype();
        Ok(match self.matrix(hidden, vocab, &full)? {
            LinearWeight::Cpu(weight) => TokenEmbedding::Quantized { weight, dtype },
            LinearWeight::Dense(t) => TokenEmbedding::Dense(t),
            // Row lookups of a device-quantized matrix: dequantize it once. (`matrix` does not
            // pack, so `Packed` does not come here.)
            LinearWeight::Device(_) | LinearWeight::Packed(_) => {
                TokenEmbedding::Dense(self.pp(name).tensor((vocab, hidden), "weight")?)
            }
        })
    }

    /// Reads the GGUF tensor for the Hugging Face name `full` as a candle `QTensor`.
    fn gguf_qtensor(&self, full: &str, shape: &Shape) -> Result<(QTensor, String)> {
        let (file, device) = self.gguf_source();
        let (gname, entry, bytes, permuted) = self.gguf_raw(full, shape)?;
        let bytes = permuted.as_deref().unwrap_or(bytes);
        let q = file
            .qtensor_from_bytes(&gname, entry, bytes, device)
            .map_err(crate::error::into_candle)?;
        Ok((q, gname))
    }

    /// A GGUF matrix: quantized ones on the CPU for the kernels (read in place from the mapped
    /// file unless the q/k permutation had to move rows), the rest as a candle `QTensor`.
    fn gguf_weight(&self, full: &str, shape: &Shape) -> Result<GgufMatrix> {
        let (file, device) = self.gguf_source();
        let (gname, entry, bytes, permuted) = self.gguf_raw(full, shape)?;
        let kernel_type = weight_type(entry.dtype).filter(|t| t.is_quantized());
        let len = bytes.len();
        if let (true, Some(ty), [rows, cols]) = (device.is_cpu(), kernel_type, shape.dims()) {
            let copied = permuted.is_some();
            let q = match permuted {
                Some(v) => QWeight::from_vec(ty, *rows, *cols, v),
                None => {
                    let shared: smolvlm_kernels::SharedBytes = file.clone();
                    QWeight::new(ty, *rows, *cols, shared, entry.start)
                }
            }
            .map_err(|e| {
                crate::error::into_candle(file.malformed(format!("tensor {gname}: {e}")))
            })?;
            // A weight that was copied no longer needs the file's pages in memory.
            if copied || q.is_relaid() {
                file.release(entry.start, len);
            }
            return Ok(GgufMatrix::Kernel(q));
        }
        let q = file
            .qtensor_from_bytes(&gname, entry, permuted.as_deref().unwrap_or(bytes), device)
            .map_err(crate::error::into_candle)?;
        file.release(entry.start, len);
        Ok(GgufMatrix::Candle(q))
    }

    fn gguf_source(&self) -> (&Arc<GgufFile>, &Device) {
        let Source::Gguf { file, device, .. } = &self.source else {
            unreachable!("only called for GGUF sources");
        };
        (file, device)
    }

    /// The GGUF name, entry and bytes for the Hugging Face name `full` after checking its shape,
    /// with the rows of decoder q/k weights un-permuted (a copy) when needed.
    #[allow(clippy::type_complexity)]
    fn gguf_raw(
        &self,
        full: &str,
        shape: &Shape,
    ) -> Result<(String, &crate::gguf::TensorEntry, &[u8], Option<Vec<u8>>)> {
        let Source::Gguf { file, heads, .. } = &self.source else {
            unreachable!("only called for GGUF sources");
        };
        let gname = gguf_name(full).ok_or_else(|| {
            candle_core::Error::Msg(format!("no llama.cpp name is known for weight {full}"))
        })?;
        let wrap = crate::error::into_candle;
        let (entry, bytes) = file.tensor_bytes(&gname).map_err(wrap)?;
        if entry.shape != shape.dims() {
            return Err(wrap(file.malformed(format!(
                "tensor {gname} has shape {:?} where the model needs {:?}",
                entry.shape,
                shape.dims()
            ))));
        }
        let permuted = match (heads, rope_permuted(&gname)) {
            (Some((nh, nkv)), Some(is_q)) => {
                let n = if is_q { *nh } else { *nkv };
                Some(unpermute_rows(bytes, entry.shape[0], n).ok_or_else(|| {
                    wrap(file.malformed(format!(
                        "tensor {gname}: {} rows cannot be split into {n} heads",
                        entry.shape[0]
                    )))
                })?)
            }
            _ => None,
        };
        Ok((gname, entry, bytes, permuted))
    }
}

enum GgufMatrix {
    Kernel(QWeight),
    Candle(QTensor),
}

/// A dense weight (out, in) as its layer will use it: unchanged for `Quantization::None`, else
/// quantized (on the CPU for this project's kernels, on a GPU as candle's `QMatMul`). A width
/// that is no whole number of the type's blocks falls back as llama.cpp's quantizer does (k-quants
/// to a 32-block type of about the same size, and dense when even that does not divide).
fn quantize_dense(dense: Tensor, quant: Quantization) -> Result<LinearWeight> {
    let Some(ty) = quant.for_width(dense.dim(1)?) else {
        return Ok(LinearWeight::Dense(dense));
    };
    let device = dense.device().clone();
    let f32s = dense.to_dtype(DType::F32)?;
    if device.is_cpu() {
        let q = QTensor::quantize(&f32s, ty)?;
        let (rows, cols) = dense.dims2()?;
        let kty = weight_type(ty).expect("quantization types have kernels");
        let bytes = q.data()?.into_owned();
        let w = QWeight::from_vec(kty, rows, cols, bytes)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        Ok(LinearWeight::Cpu(w))
    } else {
        let q = QTensor::quantize(&f32s, ty)?;
        Ok(LinearWeight::Device(QMatMul::from_qtensor(q)?))
    }
}

/// `Some(true)` for a decoder query weight/bias, `Some(false)` for a key one.
fn rope_permuted(gguf_name: &str) -> Option<bool> {
    if !gguf_name.starts_with("blk.") {
        return None;
    }
    let stem = gguf_name.rsplit_once('.')?.0;
    if stem.ends_with(".attn_q") {
        Some(true)
    } else if stem.ends_with(".attn_k") {
        Some(false)
    } else {
        None
    }
}

/// Inverse of `convert_hf_to_gguf.LlamaModel.permute`: within each head, GGUF row `2i + j` is
/// transformers' row `j·(head_dim/2) + i`. Rows are moved as whole byte runs (a row of a quantized
/// tensor is a whole number of blocks), for 1-D biases a row is one element.
fn unpermute_rows(bytes: &[u8], rows: usize, heads: usize) -> Option<Vec<u8>> {
    if heads == 0 || rows == 0 || !rows.is_multiple_of(heads) || !bytes.len().is_multiple_of(rows) {
        return None;
    }
    let hd = rows / heads;
    if !hd.is_multiple_of(2) {
        return None;
    }
    let row = bytes.len() / rows;
    let half = hd / 2;
    let mut out = vec![0u8; bytes.len()];
    for h in 0..heads {
        for j in 0..2 {
            for i in 0..half {
                let dst = h * hd + j * half + i;
                let src = h * hd + 2 * i + j;
                out[dst * row..(dst + 1) * row].copy_from_slice(&bytes[src * row..(src + 1) * row]);
            }
        }
    }
    Some(out)
}

/// llama.cpp's tensor name for a Hugging Face Idefics3 weight name.
pub fn gguf_name(hf: &str) -> Option<String> {
    let (base, suffix) = hf.rsplit_once('.')?;
    let name = if let Some(rest) = base.strip_prefix("model.text_model.") {
        match rest {
            "embed_tokens" => "token_embd".to_string(),
            "norm" => "output_norm".to_string(),
            _ => {
                let (n, part) = rest.strip_prefix("layers.")?.split_once('.')?;
                let t = match part {
                    "self_attn.q_proj" => "attn_q",
                    "self_attn.k_proj" => "attn_k",
                    "self_attn.v_proj" => "attn_v",
                    "self_attn.o_proj" => "attn_output",
                    "mlp.gate_proj" => "ffn_gate",
                    "mlp.up_proj" => "ffn_up",
                    "mlp.down_proj" => "ffn_down",
                    "input_layernorm" => "attn_norm",
                    "post_attention_layernorm" => "ffn_norm",
                    _ => return None,
                };
                format!("blk.{n}.{t}")
            }
        }
    } else if base == "lm_head" {
        "output".to_string()
    } else if base == "model.connector.modality_projection.proj" {
        "mm.model.fc".to_string()
    } else if let Some(rest) = base.strip_prefix("model.vision_model.") {
        match rest {
            "embeddings.patch_embedding" => "v.patch_embd".to_string(),
            "embeddings.position_embedding" => "v.position_embd".to_string(),
            "post_layernorm" => "v.post_ln".to_string(),
            _ => {
                let (n, part) = rest.strip_prefix("encoder.layers.")?.split_once('.')?;
                let t = match part {
                    "self_attn.q_proj" => "attn_q",
                    "self_attn.k_proj" => "attn_k",
                    "self_attn.v_proj" => "attn_v",
                    "self_attn.out_proj" => "attn_out",
                    "mlp.fc1" => "ffn_up",
                    "mlp.fc2" => "ffn_down",
                    "layer_norm1" => "ln1",
                    "layer_norm2" => "ln2",
                    _ => return None,
                };
                format!("v.blk.{n}.{t}")
            }
        }
    } else {
        return None;
    };
    Some(format!("{name}.{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Split bf16 goes to the vision tower and connector of an f16 GGUF pair only: the decoder's
    /// decode steps are single rows, and f32 tensors (the norms) stay f32.
    #[test]
    fn split_precision_is_for_reduced_precision_vision_weights() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/tiny-smolvlm");
        let open = |name: &str| Arc::new(GgufFile::open(&dir.join(name)).expect("fixture"));
        let cpu = Device::Cpu;
        let vision = Weights::gguf(open("mmproj-f16.gguf"), &cpu, DType::F32, None);
        let text = Weights::gguf(open("model-f16.gguf"), &cpu, DType::F32, Some((4, 2)));
        let fc1 = "model.vision_model.encoder.layers.0.mlp.fc1.weight";
        assert_eq!(vision.precision(fc1), Precision::SplitBf16);
        let fc = "model.connector.modality_projection.proj.weight";
        assert_eq!(vision.precision(fc), Precision::SplitBf16);
        let norm = "model.vision_model.post_layernorm.weight";
        assert_eq!(vision.precision(norm), Precision::F32);
        let q = "model.text_model.layers.0.self_attn.q_proj.weight";
        assert_eq!(text.precision(q), Precision::F32);
    }

    #[test]
    fn names_translate_to_llama_cpp() {
        let cases = [
            ("model.text_model.embed_tokens.weight", "token_embd.weight"),
            (
                "model.text_model.layers.7.self_attn.o_proj.weight",
                "blk.7.attn_output.weight",
            ),
            (
                "model.text_model.layers.0.post_attention_layernorm.weight",
                "blk.0.ffn_norm.weight",
            ),
            ("model.text_model.norm.weight", "output_norm.weight"),
            ("lm_head.weight", "output.weight"),
            (
                "model.vision_model.encoder.layers.1.mlp.fc1.bias",
                "v.blk.1.ffn_up.bias",
            ),
            (
                "model.vision_model.encoder.layers.1.layer_norm2.weight",
                "v.blk.1.ln2.weight",
            ),
            ("model.vision_model.post_layernorm.bias", "v.post_ln.bias"),
            (
                "model.connector.modality_projection.proj.weight",
                "mm.model.fc.weight",
            ),
        ];
        for (hf, gg) in cases {
            assert_eq!(gguf_name(hf).as_deref(), Some(gg), "{hf}");
        }
        assert_eq!(gguf_name("model.text_model.layers.0.rotary.inv_freq"), None);
    }

    #[test]
    fn unpermute_inverts_the_converter() {
        // convert_hf_to_gguf: w.reshape(n_head, 2, hd/2, ...).swapaxes(1, 2).reshape(...)
        let (heads, hd) = (3, 8);
        let rows = heads * hd;
        let hf: Vec<u8> = (0..rows as u8).collect();
        let mut gguf = vec![0u8; rows];
        for h in 0..heads {
            for i in 0..hd / 2 {
                for j in 0..2 {
                    gguf[h * hd + 2 * i + j] = hf[h * hd + j * (hd / 2) + i];
                }
            }
        }
        assert_eq!(unpermute_rows(&gguf, rows, heads).unwrap(), hf);
        assert!(unpermute_rows(&gguf, rows, 5).is_none());
    }
}
