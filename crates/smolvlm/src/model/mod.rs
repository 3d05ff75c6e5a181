//! The SmolVLM network: vision tower → connector → the Llama decoder, with image features
//! replacing the `<image>` token embeddings in order.

mod connector;
mod cpu_ops;
mod linear;
mod llama;
mod patch_positions;
mod shards;
mod vision;
mod weights;

use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;

pub use connector::pixel_shuffle;
pub use llama::TextModel;
pub use vision::VisionTransformer;
pub use weights::{Weights, gguf_name};

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::gguf::GgufFile;
use connector::Connector;

pub struct SmolVlm {
    /// The vision tower and connector; `None` for a GGUF text model loaded without its mmproj.
    vision: Option<(VisionTransformer, Connector)>,
    text: TextModel,
    image_token_id: u32,
    device: Device,
    dtype: DType,
}

impl SmolVlm {
    /// Loads the safetensors weights of a Hugging Face model folder (one file or an index of
    /// shards), converting whatever they are stored in (f32, bf16, f16) to `dtype`.
    pub fn load(
        dir: &Path,
        cfg: &ModelConfig,
        device: &Device,
        dtype: DType,
        quant: crate::quant::Quantization,
    ) -> Result<Self> {
        let files = shards::safetensors_files(dir)?;
        // SAFETY: the files are memory-mapped read-only; like every mmap user we rely on nobody
        // truncating them while the model is loaded.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&files, dtype, device) }
            .map_err(|e| Error::malformed(&files[0], e))?;
        Self::from_var_builder(cfg, vb, quant).map_err(|e| Error::malformed(dir, e))
    }

    fn from_var_builder(
        cfg: &ModelConfig,
        vb: VarBuilder<'static>,
        quant: crate::quant::Quantization,
    ) -> candle_core::Result<Self> {
        let root = Weights::safetensors(vb, quant);
        Self::from_weights(cfg, &root.pp("model.text_model"), &root, Some(&root))
    }

    /// Loads a llama.cpp GGUF text model and, when given, its mmproj (vision tower + connector).
    /// Linear weights stay in their stored quantization; see [`Weights`].
    pub fn load_gguf(
        text: Arc<GgufFile>,
        mmproj: Option<Arc<GgufFile>>,
        cfg: &ModelConfig,
        device: &Device,
        dtype: DType,
    ) -> Result<Self> {
        let t = &cfg.text_config;
        let heads = Some((t.num_attention_heads, t.num_kv_heads()));
        let root = Weights::gguf(text.clone(), device, dtype, heads);
        // Each part is built from one file, so a failure names the file it came from.
        let blame = |path: &Path| {
            let path = path.to_path_buf();
            move |e| crate::error::from_candle(e, |e| Error::malformed(path, e))
        };
        let vision = mmproj
            .as_ref()
            .map(|m| {
                let weights = Weights::gguf(m.clone(), device, dtype, None);
                Self::vision_part(cfg, &weights).map_err(blame(m.path()))
            })
            .transpose()?;
        let text_model =
            TextModel::new(t, &root.pp("model.text_model"), &root).map_err(blame(text.path()))?;
        Ok(Self::assemble(cfg, vision, text_model, &root))
    }

    /// `text` points at `model.text_model`, `root` at the checkpoint root (for `lm_head`), and
    /// `vision` (when the model has a vision side) at the root as well.
    fn from_weights(
        cfg: &ModelConfig,
        text: &Weights,
        root: &Weights,
        vision: Option<&Weights>,
    ) -> candle_core::Result<Self> {
        let vision = vision.map(|v| Self::vision_part(cfg, v)).transpose()?;
        let text = TextModel::new(&cfg.text_config, text, root)?;
        Ok(Self::assemble(cfg, vision, text, root))
    }

    /// The vision tower and connector, from weights rooted at the checkpoint root.
    fn vision_part(
        cfg: &ModelConfig,
        v: &Weights,
    ) -> candle_core::Result<(VisionTransformer, Connector)> {
        Ok((
            VisionTransformer::new(&cfg.vision_config, &v.pp("model.vision_model"))?,
            Connector::new(
                cfg.vision_config.hidden_size,
                cfg.text_config.hidden_size,
                cfg.scale_factor,
                &v.pp("model.connector"),
            )?,
        ))
    }

    fn assemble(
        cfg: &ModelConfig,
        vision: Option<(VisionTransformer, Connector)>,
        text: TextModel,
        root: &Weights,
    ) -> Self {
        Self {
            vision,
            text,
            image_token_id: cfg.image_token_id,
            device: root.device().clone(),
            dtype: root.dtype(),
        }
    }

    /// Whether the model can look at images (false for a GGUF text model without its mmproj).
    pub fn has_vision(&self) -> bool {
        self.vision.is_some()
    }

    fn vision(&self) -> Result<&(VisionTransformer, Connector)> {
        self.vision.as_ref().ok_or(Error::NoVision)
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn image_token_id(&self) -> u32 {
        self.image_token_id
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn text(&mut self) -> &mut TextModel {
        &mut self.text
    }

    /// The most positions the decoder takes.
    pub fn max_positions(&self) -> usize {
        self.text.max_positions()
    }

    /// Vision tower output (frames, patches, hidden) for normalized pixels (frames, 3, T, T).
    pub fn vision_hidden(&self, pixels: &Tensor) -> Result<Tensor> {
        Ok(self.vision()?.0.forward(&pixels.to_dtype(self.dtype)?)?)
    }

    /// Image features (frames, tokens, text hidden) for pixels (frames, 3, T, T).
    pub fn encode_frames(&self, pixels: &Tensor) -> Result<Tensor> {
        let hidden = self.vision_hidden(pixels)?;
        Ok(self.vision()?.1.forward(&hidden)?)
    }

    /// Input embeddings (1, len, hidden) for prompt `ids`, with the rows of `features`
    /// (n_image_tokens, hidden) placed at the `<image>` positions in order.
    pub fn prompt_embeddings(&self, ids: &[u32], features: Option<&Tensor>) -> Result<Tensor> {
        let ids_t = Tensor::new(ids, &self.device)?;
        let text = self.text.embed(&ids_t)?;
        let n_image = count_image_tokens(ids, self.image_token_id);
        let n_features = features.map_or(Ok(0), |f| f.dim(0))?;
        if n_image != n_features {
            return Err(Error::InvalidRequest(format!(
                "the prompt has {n_image} <image> tokens but the images gave {n_features} features"
            )));
        }
        let embeds = match features {
            Some(features) if n_image > 0 => {
                // Gather from [text embeddings; image features] with one index: position i takes
                // its own embedding, or the next image feature if it is an `<image>` token.
                let mut next_feature = ids.len() as u32;
                let index: Vec<u32> = ids
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| {
                        if t == self.image_token_id {
                            next_feature += 1;
                            next_feature - 1
                        } else {
                            i as u32
                        }
                    })
                    .collect();
                let all = Tensor::cat(&[&text, &features.to_dtype(text.dtype())?], 0)?;
                all.index_select(&Tensor::new(index.as_slice(), &self.device)?, 0)?
            }
            _ => text,
        };
        Ok(embeds.unsqueeze(0)?)
    }
}

/// How many of `ids` are `<image>` positions (each takes one row of image features).
pub fn count_image_tokens(ids: &[u32], image_token_id: u32) -> usize {
    ids.iter().filter(|&&t| t == image_token_id).count()
}
