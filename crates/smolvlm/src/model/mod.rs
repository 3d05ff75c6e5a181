//! The SmolVLM network: vision tower → connector → the Llama decoder, with image features
//! replacing the `<image>` token embeddings in order.

mod connector;
mod linear;
mod llama;
mod vision;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;

pub use connector::pixel_shuffle;
pub use llama::TextModel;
pub use vision::VisionTransformer;

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use connector::Connector;

pub struct SmolVlm {
    vision: VisionTransformer,
    connector: Connector,
    text: TextModel,
    image_token_id: u32,
    device: Device,
    dtype: DType,
}

impl SmolVlm {
    /// Loads the safetensors weights of a Hugging Face model folder (one file or an index of
    /// shards), converting whatever they are stored in (f32, bf16, f16) to `dtype`.
    pub fn load(dir: &Path, cfg: &ModelConfig, device: &Device, dtype: DType) -> Result<Self> {
        let files = safetensors_files(dir)?;
        // Safety: the files are memory-mapped read-only; like every mmap user we rely on nobody
        // truncating them while the model is loaded.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&files, dtype, device) }
            .map_err(|e| Error::malformed(&files[0], e))?;
        Self::from_var_builder(cfg, vb).map_err(|e| Error::malformed(dir, e))
    }

    fn from_var_builder(cfg: &ModelConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let m = vb.pp("model");
        Ok(Self {
            vision: VisionTransformer::new(&cfg.vision_config, m.pp("vision_model"))?,
            connector: Connector::new(
                cfg.vision_config.hidden_size,
                cfg.text_config.hidden_size,
                cfg.scale_factor,
                m.pp("connector"),
            )?,
            text: TextModel::new(&cfg.text_config, m.pp("text_model"), vb.clone())?,
            image_token_id: cfg.image_token_id,
            device: vb.device().clone(),
            dtype: vb.dtype(),
        })
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

    /// Vision tower output (frames, patches, hidden) for normalized pixels (frames, 3, T, T).
    pub fn vision_hidden(&self, pixels: &Tensor) -> Result<Tensor> {
        Ok(self.vision.forward(&pixels.to_dtype(self.dtype)?)?)
    }

    /// Image features (frames, tokens, text hidden) for pixels (frames, 3, T, T).
    pub fn encode_frames(&self, pixels: &Tensor) -> Result<Tensor> {
        Ok(self.connector.forward(&self.vision_hidden(pixels)?)?)
    }

    /// Input embeddings (1, len, hidden) for prompt `ids`, with the rows of `features`
    /// (n_image_tokens, hidden) placed at the `<image>` positions in order.
    pub fn prompt_embeddings(&self, ids: &[u32], features: Option<&Tensor>) -> Result<Tensor> {
        let ids_t = Tensor::new(ids, &self.device)?;
        let text = self.text.embed(&ids_t)?;
        let n_image = ids.iter().filter(|&&t| t == self.image_token_id).count();
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

fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join("model.safetensors");
    if single.exists() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    let Some(index_json): Option<serde_json::Value> = crate::config::read_json_opt(&index)? else {
        return Err(Error::MissingModelFile { path: single });
    };
    let map = index_json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::malformed(&index, "no weight_map"))?;
    let mut files: Vec<PathBuf> = map
        .values()
        .filter_map(|v| v.as_str())
        .map(|f| dir.join(f))
        .collect();
    files.sort();
    files.dedup();
    if let Some(missing) = files.iter().find(|f| !f.exists()) {
        return Err(Error::MissingModelFile {
            path: missing.clone(),
        });
    }
    Ok(files)
}
