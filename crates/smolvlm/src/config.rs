//! `config.json`, `preprocessor_config.json` and `processor_config.json` of an Idefics3 / SmolVLM
//! model folder. Defaults are transformers' own where a key is missing (cited per field), so old hub
//! files, transformers-5 files and SmolVLM2 files all parse the same way. Nothing here is keyed on a
//! model's name: every size of the family is described by these numbers alone.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Top level of `config.json` (`Idefics3Config` / `SmolVLMConfig`).
#[derive(Debug, Clone, Deserialize)]
pub struct ModelConfig {
    /// "idefics3" (SmolVLM) or "smolvlm" (SmolVLM2).
    #[serde(default = "default_model_type")]
    pub model_type: String,
    /// `Idefics3Config.image_token_id` default 128257.
    #[serde(default = "default_image_token_id")]
    pub image_token_id: u32,
    /// `Idefics3Config.scale_factor` default 2.
    #[serde(default = "default_scale_factor")]
    pub scale_factor: usize,
    /// `Idefics3Config.tie_word_embeddings` default False.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    #[serde(default)]
    pub vision_config: VisionConfig,
    #[serde(default = "TextConfig::missing")]
    pub text_config: TextConfig,
}

fn default_model_type() -> String {
    "idefics3".into()
}
fn default_image_token_id() -> u32 {
    128257
}
fn default_scale_factor() -> usize {
    2
}

/// `Idefics3VisionConfig` (SigLIP-style). Its defaults differ from candle's SigLIP ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct VisionConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_channels: usize,
    pub image_size: usize,
    pub patch_size: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
}

impl Default for VisionConfig {
    /// `Idefics3VisionConfig.__init__` defaults.
    fn default() -> Self {
        Self {
            hidden_size: 1152,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 16,
            num_channels: 3,
            image_size: 224,
            patch_size: 32,
            hidden_act: Activation::GeluPytorchTanh,
            layer_norm_eps: 1e-6,
        }
    }
}

impl VisionConfig {
    pub fn patches_per_side(&self) -> usize {
        self.image_size / self.patch_size
    }
    pub fn num_patches(&self) -> usize {
        self.patches_per_side() * self.patches_per_side()
    }
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

/// The Llama text config; missing keys take `LlamaConfig`'s defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// `LlamaConfig`: defaults to `num_attention_heads`.
    pub num_key_value_heads: Option<usize>,
    /// `LlamaConfig`: defaults to `hidden_size // num_attention_heads`.
    pub head_dim: Option<usize>,
    pub hidden_act: Activation,
    pub max_position_embeddings: usize,
    pub rms_norm_eps: f64,
    /// transformers 4.x style; transformers 5 writes `rope_parameters` instead.
    pub rope_theta: Option<f64>,
    pub rope_scaling: Option<RopeParameters>,
    pub rope_parameters: Option<RopeParameters>,
    pub attention_bias: bool,
    pub mlp_bias: bool,
    pub tie_word_embeddings: bool,
    pub bos_token_id: Option<u32>,
    pub eos_token_id: Option<TokenIds>,
}

impl Default for TextConfig {
    fn default() -> Self {
        Self {
            vocab_size: 32000,
            hidden_size: 4096,
            intermediate_size: 11008,
            num_hidden_layers: 32,
            num_attention_heads: 32,
            num_key_value_heads: None,
            head_dim: None,
            hidden_act: Activation::Silu,
            max_position_embeddings: 2048,
            rms_norm_eps: 1e-6,
            rope_theta: None,
            rope_scaling: None,
            rope_parameters: None,
            attention_bias: false,
            mlp_bias: false,
            tie_word_embeddings: false,
            bos_token_id: None,
            eos_token_id: None,
        }
    }
}

/// The longest context (`max_position_embeddings`, GGUF `context_length`) a model may declare.
/// The number comes from a model file and sizes what the loader allocates before any weight
/// checks it (the RoPE tables: positions × head_dim floats, twice), what prompts are admitted
/// against, and what the KV cache may grow to. SmolVLM's and SmolLM2's decoders declare 8192,
/// SmolVLM-Instruct's 16384; this is eight times that (RoPE tables of 32 MiB each at head_dim
/// 128). A lazily grown RoPE table would bound only the first of the three, so the value itself
/// is refused.
pub const MAX_CONTEXT: usize = 1 << 17;

/// `rope_parameters` (transformers 5) or `rope_scaling` (4.x).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct RopeParameters {
    #[serde(alias = "type")]
    pub rope_type: Option<String>,
    pub rope_theta: Option<f64>,
    pub factor: Option<f64>,
}

/// How positions are scaled before RoPE; only what SmolVLM-family checkpoints use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RopeScaling {
    None,
    Linear(f64),
}

impl TextConfig {
    /// What transformers builds when `text_config` is absent altogether: `SubConfigSpec`'s
    /// `init_kwargs` set `rms_norm_eps=1e-5` only in that case.
    fn missing() -> Self {
        Self {
            rms_norm_eps: 1e-5,
            ..Self::default()
        }
    }

    pub fn num_kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads)
    }

    /// RoPE base: `rope_parameters.rope_theta`, else `rope_theta`, else LlamaConfig's 10000.
    pub fn rope_theta(&self) -> f64 {
        self.rope_parameters
            .as_ref()
            .and_then(|p| p.rope_theta)
            .or(self.rope_theta)
            .unwrap_or(10000.0)
    }

    pub fn rope_scaling(&self) -> Result<RopeScaling> {
        let params = self.rope_parameters.as_ref().or(self.rope_scaling.as_ref());
        let Some(p) = params else {
            return Ok(RopeScaling::None);
        };
        match p.rope_type.as_deref() {
            None | Some("default") => Ok(RopeScaling::None),
            Some("linear") => Ok(RopeScaling::Linear(p.factor.unwrap_or(1.0))),
            Some(other) => Err(Error::UnsupportedModel(format!(
                "RoPE scaling type {other:?} is not supported (only default and linear)"
            ))),
        }
    }
}

/// An id or a list of ids, as `eos_token_id` may be either.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    One(u32),
    Many(Vec<u32>),
}

impl TokenIds {
    pub fn to_vec(&self) -> Vec<u32> {
        match self {
            TokenIds::One(id) => vec![*id],
            TokenIds::Many(ids) => ids.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Activation {
    #[serde(rename = "gelu_pytorch_tanh", alias = "gelu_new", alias = "gelu_fast")]
    GeluPytorchTanh,
    #[serde(rename = "gelu")]
    Gelu,
    #[serde(rename = "quick_gelu")]
    QuickGelu,
    #[serde(rename = "silu", alias = "swish")]
    Silu,
    #[serde(rename = "relu")]
    Relu,
}

/// `generation_config.json`: only the stop tokens matter to us.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct GenerationConfig {
    pub eos_token_id: Option<TokenIds>,
    pub bos_token_id: Option<u32>,
}

impl ModelConfig {
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let cfg: Self = read_json_opt(&path)?.ok_or(Error::MissingModelFile { path })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// `<image>` tokens one frame becomes: (patches per side / scale)².
    pub fn tokens_per_frame(&self) -> usize {
        self.vision_config.num_patches() / (self.scale_factor * self.scale_factor)
    }

    fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::UnsupportedModel(msg));
        match self.model_type.as_str() {
            "idefics3" | "smolvlm" => {}
            other => {
                return bad(format!(
                    "model_type {other:?} is not a SmolVLM / Idefics3 model"
                ));
            }
        }
        self.validate_vision()?;
        self.validate_text()
    }

    /// The vision tower and connector settings fit together.
    pub(crate) fn validate_vision(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::UnsupportedModel(msg));
        let v = &self.vision_config;
        // A side need not be a multiple of the patch: the convolution drops the rest
        // (SigLIP-SO400M/14 at 384 px is 27 patches a side).
        if v.patch_size == 0 || v.image_size < v.patch_size {
            return bad(format!(
                "vision image_size {} is smaller than one patch ({})",
                v.image_size, v.patch_size
            ));
        }
        if v.num_attention_heads == 0 || !v.hidden_size.is_multiple_of(v.num_attention_heads) {
            return bad("vision hidden_size is not divisible by its head count".into());
        }
        if self.scale_factor == 0 || !v.patches_per_side().is_multiple_of(self.scale_factor) {
            return bad(format!(
                "{} patches per side cannot be pixel-shuffled by scale_factor {}",
                v.patches_per_side(),
                self.scale_factor
            ));
        }
        Ok(())
    }

    /// The decoder settings are ones this engine runs.
    pub(crate) fn validate_text(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::UnsupportedModel(msg));
        let t = &self.text_config;
        if t.num_attention_heads == 0 || t.num_kv_heads() == 0 {
            return bad("text model has no attention heads".into());
        }
        if !t.num_attention_heads.is_multiple_of(t.num_kv_heads()) {
            return bad("attention heads are not a multiple of key/value heads".into());
        }
        if !t.head_dim().is_multiple_of(2) {
            return bad("text head_dim must be even for RoPE".into());
        }
        if !(1..=MAX_CONTEXT).contains(&t.max_position_embeddings) {
            return bad(format!(
                "a context of {} positions is outside what this engine runs (1 to {MAX_CONTEXT})",
                t.max_position_embeddings
            ));
        }
        if t.hidden_act != Activation::Silu {
            return bad(format!(
                "text activation {:?} is not supported",
                t.hidden_act
            ));
        }
        t.rope_scaling()?;
        Ok(())
    }
}

impl GenerationConfig {
    pub fn from_dir(dir: &Path) -> Result<Self> {
        Ok(read_json_opt(&dir.join("generation_config.json"))?.unwrap_or_default())
    }
}

/// Parses a JSON file, `None` when it does not exist.
pub fn read_json_opt<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::malformed(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_keys_take_transformers_defaults() {
        let cfg: ModelConfig = serde_json::from_str(r#"{"model_type": "idefics3"}"#).unwrap();
        assert_eq!(cfg.image_token_id, 128257);
        assert_eq!(cfg.scale_factor, 2);
        assert_eq!(cfg.vision_config.hidden_size, 1152);
        assert_eq!(cfg.vision_config.patch_size, 32);
        assert_eq!(cfg.text_config.rope_theta(), 10000.0);
        assert_eq!(cfg.text_config.num_kv_heads(), 32);
        assert_eq!(cfg.text_config.head_dim(), 128);
        assert_eq!(cfg.text_config.rms_norm_eps, 1e-5);
        let partial: ModelConfig =
            serde_json::from_str(r#"{"text_config": {"hidden_size": 64}}"#).unwrap();
        assert_eq!(
            partial.text_config.rms_norm_eps, 1e-6,
            "LlamaConfig's own default"
        );
    }

    #[test]
    fn rope_theta_in_either_style() {
        let old: TextConfig = serde_json::from_str(r#"{"rope_theta": 100000.0}"#).unwrap();
        assert_eq!(old.rope_theta(), 100000.0);
        let new: TextConfig = serde_json::from_str(
            r#"{"rope_parameters": {"rope_type": "default", "rope_theta": 273768.0}}"#,
        )
        .unwrap();
        assert_eq!(new.rope_theta(), 273768.0);
        assert_eq!(new.rope_scaling().unwrap(), RopeScaling::None);
        let yarn: TextConfig =
            serde_json::from_str(r#"{"rope_scaling": {"type": "yarn", "factor": 4.0}}"#).unwrap();
        assert!(matches!(
            yarn.rope_scaling(),
            Err(Error::UnsupportedModel(_))
        ));
    }

    #[test]
    fn tokens_per_frame_follow_the_config() {
        let small: ModelConfig = serde_json::from_str(
            r#"{"scale_factor": 4, "vision_config": {"image_size": 512, "patch_size": 16}}"#,
        )
        .unwrap();
        assert_eq!(small.tokens_per_frame(), 64);
        let big: ModelConfig = serde_json::from_str(
            r#"{"scale_factor": 3, "vision_config": {"image_size": 384, "patch_size": 14}}"#,
        )
        .unwrap();
        assert_eq!(big.tokens_per_frame(), 81);
    }

    #[test]
    fn absurd_context_lengths_are_refused() {
        let with = |n: u64| -> ModelConfig {
            serde_json::from_str(&format!(
                r#"{{"text_config": {{"max_position_embeddings": {n}, "num_attention_heads": 4, "hidden_size": 64}}}}"#
            ))
            .unwrap()
        };
        for n in [0, MAX_CONTEXT as u64 + 1, 1 << 40] {
            let err = with(n).validate_text().unwrap_err();
            assert_eq!(err.code(), "unsupported_model", "{n}: {err}");
            assert!(err.to_string().contains("context"), "{err}");
        }
        for n in [8192, 16384, MAX_CONTEXT as u64] {
            with(n).validate_text().unwrap();
        }
    }

    #[test]
    fn other_architectures_are_refused() {
        let cfg: ModelConfig = serde_json::from_str(r#"{"model_type": "llava"}"#).unwrap();
        assert!(matches!(cfg.validate(), Err(Error::UnsupportedModel(_))));
    }
}
