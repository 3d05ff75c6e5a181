//! A loaded SmolVLM with everything around the network: processor, tokenizer, chat template,
//! stop tokens. `prepare` turns a conversation into decoder input; `generate` runs it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device};
use smolvlm_image::{ImageLimits, ImagePlan, ImageProcessor, ProcessorConfig};
use smolvlm_text::{ChatTemplate, Message, Tokenizer};

use crate::chat::ImageSource;
use crate::config::{GenerationConfig, ModelConfig};
use crate::device::{DevicePreference, select_device};
use crate::error::{Error, Result};
use crate::generate::{CancelToken, Generation, SamplingParams};
use crate::model::SmolVlm;

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub device: DevicePreference,
    /// Compute type; f32 unless asked otherwise (the CPU has no fast half-precision path).
    pub dtype: Option<DType>,
    /// The llama.cpp vision projector (mmproj GGUF) paired with a GGUF text model. Without it a
    /// GGUF text model answers text-only prompts.
    pub mmproj: Option<PathBuf>,
    /// Quantize a safetensors model's linear layers and token embedding as it loads (GGUF files
    /// keep their own types).
    pub quant: crate::quant::Quantization,
}

/// A conversation made ready for the decoder: the expanded prompt ids and the normalized pixels
/// of every frame of every image, in prompt order.
#[derive(Debug, Clone)]
pub struct PreparedPrompt {
    pub ids: Vec<u32>,
    pub image_tokens: usize,
    /// How each image was resized and tiled.
    pub images: Vec<ImagePlan>,
    /// `frames × 3 × tile × tile`, channel-first.
    pub pixel_values: Vec<f32>,
    pub frames: usize,
    pub tile: usize,
}

pub struct SmolVlmModel {
    pub(crate) dir: PathBuf,
    pub(crate) config: ModelConfig,
    pub(crate) processor: ImageProcessor,
    pub(crate) tokenizer: Tokenizer,
    pub(crate) template: ChatTemplate,
    pub(crate) net: SmolVlm,
    pub(crate) stop_ids: Vec<u32>,
    pub(crate) image_limits: ImageLimits,
    pub(crate) load_s: f64,
    /// Identity of each position in the decoder's KV cache, to reuse it across turns.
    pub(crate) cached_keys: Vec<u64>,
}

impl SmolVlmModel {
    /// Loads a Hugging Face model folder (config, processor settings, tokenizer, template,
    /// safetensors weights).
    ///
    /// A `.gguf` path loads a llama.cpp text model instead, with `options.mmproj` as its vision
    /// projector (see [`Self::load_gguf`]).
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Self> {
        if is_gguf(path) {
            return Self::load_gguf(path, options.mmproj.as_deref(), options);
        }
        if let Some(mmproj) = &options.mmproj {
            return Err(Error::InvalidRequest(format!(
                "{} is a vision projector for a GGUF text model, but {} is not a GGUF file \
                 (a Hugging Face model folder has its own vision tower)",
                mmproj.display(),
                path.display()
            )));
        }
        let start = Instant::now();
        let dir = model_dir(path)?;
        let config = ModelConfig::from_dir(&dir)?;
        let processor_config = ProcessorConfig::from_dir(&dir)?;
        if processor_config.image_seq_len != config.tokens_per_frame() {
            return Err(Error::UnsupportedModel(format!(
                "processor_config.json gives {} image tokens per frame but the vision config gives {}",
                processor_config.image_seq_len,
                config.tokens_per_frame()
            )));
        }
        let tokenizer = Tokenizer::from_dir(&dir)?;
        let template = ChatTemplate::from_dir(&dir)?
            .with_special_tokens(tokenizer.special_tokens_map().to_vec());
        let stop_ids = stop_ids(&dir, &config, &tokenizer)?;
        let device: Device = select_device(options.device)?;
        let dtype = options.dtype.unwrap_or(DType::F32);
        let net = SmolVlm::load(&dir, &config, &device, dtype, options.quant)?;
        Ok(Self {
            dir,
            config,
            processor: ImageProcessor::new(processor_config),
            tokenizer,
            template,
            net,
            stop_ids,
            image_limits: ImageLimits::default(),
            load_s: start.elapsed().as_secs_f64(),
            cached_keys: Vec::new(),
        })
    }

    /// Loads a llama.cpp GGUF text model (`llama` architecture) and, when given, its mmproj
    /// (`clip`, projector type idefics3). Hyper-parameters, processor settings, tokenizer and chat
    /// template come from the files' metadata; a `tokenizer.json` next to the text model is used
    /// instead of the GGUF vocabulary when present (with that folder's `tokenizer_config.json`
    /// and chat template files). Without an mmproj the model is text-only: prompts with images
    /// fail with [`Error::NoVision`].
    pub fn load_gguf(text: &Path, mmproj: Option<&Path>, options: &LoadOptions) -> Result<Self> {
        use crate::gguf;
        let start = Instant::now();
        let text_file = std::sync::Arc::new(gguf::GgufFile::open(text)?);
        let text_config = gguf::text_config(&text_file)?;
        let mmproj_file = mmproj
            .map(|p| gguf::GgufFile::open(p).map(std::sync::Arc::new))
            .transpose()?;
        let mm = mmproj_file
            .as_deref()
            .map(gguf::mmproj_config)
            .transpose()?;
        if let (Some(m), Some(path)) = (&mm, mmproj)
            && m.projection_dim != text_config.hidden_size
        {
            return Err(Error::UnsupportedModel(format!(
                "{} does not fit {}: it projects images to {} dimensions but the text model is {} wide",
                path.display(),
                text.display(),
                m.projection_dim,
                text_config.hidden_size
            )));
        }
        let dir = text
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let (tokenizer, template) = if dir.join("tokenizer.json").is_file() {
            let tokenizer = Tokenizer::from_dir(&dir)?;
            let mut template = ChatTemplate::from_dir(&dir)?;
            if *template.origin() == smolvlm_text::TemplateOrigin::Default {
                template = gguf::chat_template(&text_file, &tokenizer)?;
            }
            let template = template.with_special_tokens(tokenizer.special_tokens_map().to_vec());
            (tokenizer, template)
        } else {
            let tokenizer = gguf::tokenizer(&text_file)?;
            let template = gguf::chat_template(&text_file, &tokenizer)?;
            (tokenizer, template)
        };
        // A text-only SmolLM2 file has no rows for the image tokens the processor adds after its
        // vocabulary; they only matter (and must fit) when images can be placed in prompts.
        let needed = if mm.is_some() {
            tokenizer.vocab_size()
        } else {
            tokenizer.base_vocab_size()
        };
        if needed > text_config.vocab_size {
            return Err(Error::UnsupportedModel(format!(
                "the tokenizer has {needed} tokens but {} has only {} embeddings",
                text.display(),
                text_config.vocab_size
            )));
        }
        let image_token_id = match (tokenizer.image_token_id(), &mm) {
            (Some(id), _) => id,
            (None, None) => u32::MAX,
            (None, Some(_)) => {
                return Err(Error::UnsupportedModel(format!(
                    "the vocabulary of {} has no {} token, so images cannot be placed in prompts",
                    text.display(),
                    tokenizer.image_token()
                )));
            }
        };
        let config = gguf::model_config(&text_config, mm.as_ref(), image_token_id);
        config.validate_text()?;
        if mm.is_some() {
            config.validate_vision()?;
        }
        let processor_config = mm.as_ref().map(|m| m.processor.clone()).unwrap_or_default();
        let stop_ids = stop_ids(&dir, &config, &tokenizer)?;
        let device: Device = select_device(options.device)?;
        let dtype = options.dtype.unwrap_or(DType::F32);
        let net = SmolVlm::load_gguf(text_file, mmproj_file, &config, &device, dtype)?;
        Ok(Self {
            dir,
            config,
            processor: ImageProcessor::new(processor_config),
            tokenizer,
            template,
            net,
            stop_ids,
            image_limits: ImageLimits::default(),
            load_s: start.elapsed().as_secs_f64(),
            cached_keys: Vec::new(),
        })
    }

    /// Whether the model can take images (false for a GGUF text model loaded without mmproj).
    pub fn has_vision(&self) -> bool {
        self.net.has_vision()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn processor(&self) -> &ImageProcessor {
        &self.processor
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    pub fn device(&self) -> &Device {
        self.net.device()
    }

    /// The network itself, for parity checks and benchmarks of its parts. Whatever is done with
    /// it, the next generation starts from an empty cache.
    pub fn network(&mut self) -> &mut SmolVlm {
        self.cached_keys.clear();
        &mut self.net
    }

    pub fn load_seconds(&self) -> f64 {
        self.load_s
    }

    /// The decoder's context: the most positions a prompt plus its answer can take.
    pub fn context_length(&self) -> usize {
        self.config.text_config.max_position_embeddings
    }

    /// Renders the chat template (with the generation prompt), loads and processes every image
    /// in order of appearance, expands each `<image>` and tokenizes. `longest_edge` overrides the
    /// processor's `size.longest_edge` (the resolution knob).
    pub fn prepare(
        &self,
        messages: &[Message],
        longest_edge: Option<u32>,
    ) -> Result<PreparedPrompt> {
        if messages.is_empty() {
            return Err(Error::InvalidRequest("the conversation is empty".into()));
        }
        let processor = match longest_edge {
            Some(px) => self.processor.with_longest_edge(px)?,
            None => self.processor.clone(),
        };
        if !self.net.has_vision() && messages.iter().any(|m| m.images().next().is_some()) {
            return Err(Error::NoVision);
        }
        let prompt = self.template.render(messages, true)?;
        let images = messages
            .iter()
            .flat_map(|m| m.images())
            .map(|src| {
                let rgb = match src {
                    ImageSource::Path(p) => smolvlm_image::load_image_file(p, &self.image_limits)?,
                    ImageSource::Bytes { name, data } => {
                        smolvlm_image::decode_image_bytes(data, name, &self.image_limits)?
                    }
                };
                Ok(processor.process(&rgb)?)
            })
            .collect::<Result<Vec<_>>>()?;
        let grids: Vec<(usize, usize)> =
            images.iter().map(|i| (i.plan.rows, i.plan.cols)).collect();
        let frames: usize = images.iter().map(|i| i.frames.len()).sum();
        let pixel_values: Vec<f32> = images
            .iter()
            .flat_map(|i| i.pixel_values(processor.config()))
            .collect();
        let expanded =
            smolvlm_text::expand_images(&prompt, &grids, processor.config().image_seq_len)?;
        let ids = self.tokenizer.encode(&expanded)?;
        let image_tokens = ids
            .iter()
            .filter(|&&t| t == self.config.image_token_id)
            .count();
        if image_tokens != frames * self.config.tokens_per_frame() {
            return Err(Error::UnsupportedModel(format!(
                "the tokenizer does not map <image> to image_token_id {} ({} image positions for {} frames)",
                self.config.image_token_id, image_tokens, frames
            )));
        }
        // Room for at least one generated token.
        if ids.len() >= self.context_length() {
            return Err(Error::PromptTooLong {
                needed: ids.len() + 1,
                fits: self.context_length(),
            });
        }
        Ok(PreparedPrompt {
            ids,
            image_tokens,
            images: images.into_iter().map(|i| i.plan).collect(),
            pixel_values,
            frames,
            tile: processor.config().tile_size as usize,
        })
    }

    /// Forgets the previous turn's KV cache (the next prompt runs in full).
    pub fn clear_cache(&mut self) {
        self.cached_keys.clear();
        self.net.text().clear_cache();
    }

    /// Starts generating; the returned iterator does the work as it is advanced. When the prompt
    /// begins like the previous one (a follow-up in the same conversation), the shared prefix is
    /// taken from the KV cache and its images are not encoded again.
    pub fn generate(
        &mut self,
        prompt: PreparedPrompt,
        params: SamplingParams,
        cancel: CancelToken,
    ) -> Generation<'_> {
        Generation::new(self, prompt, params, cancel)
    }
}

fn is_gguf(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

/// The folder holding the model; a path to its `config.json` is accepted too.
fn model_dir(path: &Path) -> Result<PathBuf> {
    if path.is_dir() {
        return Ok(path.to_path_buf());
    }
    if path.file_name().is_some_and(|n| n == "config.json") && path.exists() {
        Ok(path.parent().map(Path::to_path_buf).unwrap_or_default())
    } else if !path.exists() {
        Err(Error::MissingModelFile {
            path: path.to_path_buf(),
        })
    } else {
        Err(Error::UnsupportedModel(format!(
            "{} is neither a model folder nor a GGUF file",
            path.display()
        )))
    }
}

/// transformers stops on `generation_config.eos_token_id`; SmolVLM's answers end with
/// `<end_of_utterance>`, which is that id in every published config, and is added in case a
/// config omits it.
fn stop_ids(dir: &Path, config: &ModelConfig, tokenizer: &Tokenizer) -> Result<Vec<u32>> {
    let generation = GenerationConfig::from_dir(dir)?;
    let mut ids: Vec<u32> = generation
        .eos_token_id
        .or(config.text_config.eos_token_id.clone())
        .map(|t| t.to_vec())
        .unwrap_or_default();
    ids.extend(tokenizer.end_of_utterance_id());
    if ids.is_empty() {
        ids = tokenizer.eos_token_ids();
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}
