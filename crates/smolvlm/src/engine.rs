//! A loaded SmolVLM: its read-only front end ([`crate::frontend`]: config, processor, tokenizer,
//! template, stop tokens), the network with its KV cache ([`crate::session`]) and the threads it
//! computes on ([`crate::compute`]). `prepare` turns a conversation into decoder input;
//! `generate` runs it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device};
use smolvlm_image::{ImageLimits, ImageProcessor, ProcessorConfig};
use smolvlm_text::{ChatTemplate, Message, Tokenizer};

use crate::compute::Compute;
use crate::config::{GenerationConfig, ModelConfig};
use crate::device::{DeviceChoice, DevicePreference, select_device};
use crate::error::{Error, Result};
use crate::frontend::{Frontend, PreparedPrompt};
use crate::generate::{CancelToken, Generation, SamplingParams};
use crate::model::SmolVlm;
use crate::session::Session;

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
    /// CPU compute threads: the kernels' pool (nearly all the work) and, for the first model of
    /// a process, rayon's pool of candle's CPU ops; 0 is automatic (`SMOLVLM_THREADS`, else the
    /// physical cores). See [`crate::compute`].
    pub threads: usize,
}

pub struct SmolVlmModel {
    front: Frontend,
    session: Session,
    compute: Compute,
    device_notice: Option<String>,
    load_s: f64,
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
        let DeviceChoice { device, notice } = select_device(options.device)?;
        let dtype = options.dtype.unwrap_or(DType::F32);
        let compute = Compute::new(options.threads);
        let net = compute.run(|| SmolVlm::load(&dir, &config, &device, dtype, options.quant))?;
        let front = Frontend {
            dir,
            config,
            processor: ImageProcessor::new(processor_config),
            tokenizer,
            template,
            stop_ids,
            image_limits: ImageLimits::default(),
        };
        Ok(Self::assemble(front, net, compute, notice, start))
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
        let DeviceChoice { device, notice } = select_device(options.device)?;
        let dtype = options.dtype.unwrap_or(DType::F32);
        let compute = Compute::new(options.threads);
        let net =
            compute.run(|| SmolVlm::load_gguf(text_file, mmproj_file, &config, &device, dtype))?;
        let front = Frontend {
            dir,
            config,
            processor: ImageProcessor::new(processor_config),
            tokenizer,
            template,
            stop_ids,
            image_limits: ImageLimits::default(),
        };
        Ok(Self::assemble(front, net, compute, notice, start))
    }

    /// The image processor settings `load(path, options)` would use, read from the model's
    /// small files only (no weights): what a caller needs to size images for a model that is
    /// not loaded yet (e.g. PDF pages rendered at the edge it will resize them to). A GGUF text
    /// model without an mmproj has transformers' defaults (it takes no images).
    pub fn processor_config_of(path: &Path, options: &LoadOptions) -> Result<ProcessorConfig> {
        if is_gguf(path) {
            let Some(mmproj) = options.mmproj.as_deref() else {
                return Ok(ProcessorConfig::default());
            };
            let file = crate::gguf::GgufFile::open(mmproj)?;
            return Ok(crate::gguf::mmproj_config(&file)?.processor);
        }
        Ok(ProcessorConfig::from_dir(&model_dir(path)?)?)
    }

    fn assemble(
        front: Frontend,
        net: SmolVlm,
        compute: Compute,
        device_notice: Option<String>,
        start: Instant,
    ) -> Self {
        Self {
            front,
            session: Session::new(net),
            compute,
            device_notice,
            load_s: start.elapsed().as_secs_f64(),
        }
    }

    /// Whether the model can take images (false for a GGUF text model loaded without mmproj).
    pub fn has_vision(&self) -> bool {
        self.session.net().has_vision()
    }

    pub fn dir(&self) -> &Path {
        &self.front.dir
    }

    pub fn config(&self) -> &ModelConfig {
        &self.front.config
    }

    pub fn processor(&self) -> &ImageProcessor {
        &self.front.processor
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.front.tokenizer
    }

    /// Why the model is on the CPU although the build has an accelerator (`auto` fell back).
    pub fn device_notice(&self) -> Option<&str> {
        self.device_notice.as_deref()
    }

    pub fn device(&self) -> &Device {
        self.session.net().device()
    }

    /// The CPU threads this model computes on (`LoadOptions::threads`, 0 resolved).
    pub fn threads(&self) -> usize {
        self.compute.threads()
    }

    /// The threads this model computes on, for callers that run its parts themselves
    /// ([`Self::network`]): work inside [`Compute::run`] uses that many threads.
    pub fn compute(&self) -> &Compute {
        &self.compute
    }

    /// The network itself, for parity checks and benchmarks of its parts. Whatever is done with
    /// it, the next generation starts from an empty cache.
    pub fn network(&mut self) -> &mut SmolVlm {
        self.session.net_mut()
    }

    pub fn load_seconds(&self) -> f64 {
        self.load_s
    }

    /// The decoder's context: the most positions a prompt plus its answer can take.
    pub fn context_length(&self) -> usize {
        self.front.context_length()
    }

    /// Renders the chat template (with the generation prompt), loads and processes every image
    /// in order of appearance, expands each `<image>` and tokenizes. `longest_edge` overrides the
    /// processor's `size.longest_edge` (the resolution knob).
    pub fn prepare(
        &self,
        messages: &[Message],
        longest_edge: Option<u32>,
    ) -> Result<PreparedPrompt> {
        self.front.prepare(
            messages,
            longest_edge,
            self.session.net().has_vision(),
            None,
        )
    }

    /// [`Self::prepare`] for a job that may be cancelled while it waits or prepares: `cancel`
    /// is checked before the template renders, before each image is read and before the
    /// prompt is tokenized, and a set token gives [`Error::Cancelled`] with nothing more done.
    pub fn prepare_cancellable(
        &self,
        messages: &[Message],
        longest_edge: Option<u32>,
        cancel: &CancelToken,
    ) -> Result<PreparedPrompt> {
        let has_vision = self.session.net().has_vision();
        self.front
            .prepare(messages, longest_edge, has_vision, Some(cancel))
    }

    /// Forgets the previous turn's KV cache (the next prompt runs in full).
    pub fn clear_cache(&mut self) {
        self.session.clear();
    }

    /// Starts generating; the returned iterator does the work as it is advanced, on this
    /// model's threads. When the prompt begins like the previous one (a follow-up in the same
    /// conversation), the shared prefix is taken from the KV cache and its images are not
    /// encoded again.
    pub fn generate(
        &mut self,
        prompt: PreparedPrompt,
        params: SamplingParams,
        cancel: CancelToken,
    ) -> Generation<'_> {
        Generation::new(
            &self.front,
            &mut self.session,
            &self.compute,
            self.load_s,
            prompt,
            params,
            cancel,
        )
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
