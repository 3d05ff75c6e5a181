//! The model options every subcommand that loads a model shares (`generate`, `bench`, `batch`,
//! `serve`), and loading the model they name.

use std::path::{Path, PathBuf};

use clap::Args;
use smolvlm::{DevicePreference, LoadOptions, SmolVlmModel};

use crate::CliError;

#[derive(Args)]
pub struct ModelArgs {
    /// A Hugging Face model folder (config.json, tokenizer, safetensors), a GGUF file, a catalog
    /// id or org/repo[@revision] (resolved through the hub cache, downloaded if missing).
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub load: LoadArgs,
}

/// How a model loads, whichever model it is.
#[derive(Args)]
pub struct LoadArgs {
    /// The llama.cpp vision projector (mmproj GGUF) paired with a GGUF text model; without it a
    /// GGUF model answers text only.
    #[arg(long)]
    pub mmproj: Option<PathBuf>,
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

impl LoadArgs {
    /// The options for any model (no projector: each model brings its own).
    pub fn options(&self) -> LoadOptions {
        LoadOptions {
            device: self.device,
            dtype: None,
            mmproj: None,
            quant: self.quant,
            threads: self.threads.unwrap_or(0),
        }
    }

    /// Resolves `model` (a catalog id or org/repo[@revision] through the hub cache, where a GGUF
    /// catalog entry brings its own projector; a path as it is) and the options to load it with,
    /// `--mmproj` first.
    pub fn resolve(&self, model: &Path) -> Result<(PathBuf, LoadOptions), CliError> {
        let (path, catalog_mmproj) = crate::models::resolve_model_arg(model)?;
        let options = LoadOptions {
            mmproj: self.mmproj.clone().or(catalog_mmproj),
            ..self.options()
        };
        Ok((path, options))
    }
}

impl ModelArgs {
    /// Loads the model; returns the path loaded too.
    pub fn load(&self) -> Result<(SmolVlmModel, PathBuf), CliError> {
        let (path, options) = self.load.resolve(&self.model)?;
        Ok((load_model(&path, &options)?, path))
    }
}

/// Loads a model, saying on stderr when `--device auto` fell back to the CPU in a GPU build
/// (and why), so a user who expected the GPU is not left guessing.
pub fn load_model(path: &Path, options: &LoadOptions) -> Result<SmolVlmModel, CliError> {
    let model = SmolVlmModel::load(path, options)?;
    if let Some(notice) = model.device_notice() {
        eprintln!("notice: {notice}");
    }
    Ok(model)
}
