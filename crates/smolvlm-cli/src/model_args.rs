//! The model options `generate` and `bench` share, and loading the model they name.

use std::path::PathBuf;

use clap::Args;
use smolvlm::{DevicePreference, LoadOptions, SmolVlmModel};

use crate::CliError;

#[derive(Args)]
pub struct ModelArgs {
    /// A Hugging Face model folder (config.json, tokenizer, safetensors), a GGUF file, a catalog
    /// id or org/repo[@revision] (resolved through the hub cache, downloaded if missing).
    #[arg(long)]
    pub model: PathBuf,
    /// The llama.cpp vision projector (mmproj GGUF) paired with a GGUF text model; without it a
    /// GGUF model answers text only.
    #[arg(long)]
    mmproj: Option<PathBuf>,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto")]
    device: DevicePreference,
    /// Quantize a safetensors model's weights as it loads: none, q8_0, q4_0, q4_1, q5_0, q5_1,
    /// q4_k, q5_k, q6_k (GGUF files keep their own types).
    #[arg(long, default_value = "none")]
    quant: smolvlm::Quantization,
    /// CPU compute threads (default: `SMOLVLM_THREADS`, else the physical cores).
    #[arg(long)]
    threads: Option<usize>,
}

impl ModelArgs {
    /// Loads the model: a catalog id or org/repo[@revision] resolves through the hub cache (a
    /// GGUF catalog entry brings its own projector); a path is used as it is. Returns the path
    /// loaded too.
    pub fn load(&self) -> Result<(SmolVlmModel, PathBuf), CliError> {
        let (path, catalog_mmproj) = crate::models::resolve_model_arg(&self.model)?;
        let options = LoadOptions {
            device: self.device,
            dtype: None,
            mmproj: self.mmproj.clone().or(catalog_mmproj),
            quant: self.quant,
            threads: self.threads.unwrap_or(0),
        };
        let model = SmolVlmModel::load(&path, &options)?;
        Ok((model, path))
    }
}
