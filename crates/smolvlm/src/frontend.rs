//! Everything read-only around the network: config, image processor, tokenizer, chat template,
//! stop tokens. It turns a conversation into decoder input ([`PreparedPrompt`]) and tells a
//! generation when to stop; nothing in it changes once the model is loaded.

use std::path::PathBuf;

use smolvlm_image::{ImageLimits, ImagePlan, ImageProcessor};
use smolvlm_text::{ChatTemplate, Message, Tokenizer};

use crate::chat::{ContentPart, ImageSource};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::model::count_image_tokens;
use smolvlm_cancel::CancelToken;

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

pub(crate) struct Frontend {
    pub dir: PathBuf,
    pub config: ModelConfig,
    pub processor: ImageProcessor,
    pub tokenizer: Tokenizer,
    pub template: ChatTemplate,
    pub stop_ids: Vec<u32>,
    pub image_limits: ImageLimits,
}

impl Frontend {
    /// The decoder's context: the most positions a prompt plus its answer can take.
    pub fn context_length(&self) -> usize {
        self.config.text_config.max_position_embeddings
    }

    /// See [`crate::SmolVlmModel::prepare`]; `has_vision` is false for a GGUF text model loaded
    /// without its mmproj (images are then refused). `cancel`, when set, stops it before each
    /// step: the template (a model file, whose render may take its whole fuel), every image,
    /// the tokenizer.
    pub fn prepare(
        &self,
        messages: &[Message],
        longest_edge: Option<u32>,
        has_vision: bool,
        cancel: Option<&CancelToken>,
    ) -> Result<PreparedPrompt> {
        let go_on = || match cancel {
            Some(c) if c.is_cancelled() => Err(Error::Cancelled),
            _ => Ok(()),
        };
        go_on()?;
        if messages.is_empty() {
            return Err(Error::InvalidRequest("the conversation is empty".into()));
        }
        let processor = match longest_edge {
            Some(px) => self.processor.with_longest_edge(px)?,
            None => self.processor.clone(),
        };
        if !has_vision && messages.iter().any(|m| m.images().next().is_some()) {
            return Err(Error::NoVision);
        }
        // Typed text is text: markup tokens in it are marked, and the tokenizer reads them as the
        // characters they are, so only the template's own markup (and one `<image>` per image)
        // becomes tokens.
        let messages: Vec<Message> = messages
            .iter()
            .map(|m| Message {
                role: m.role,
                content: m
                    .content
                    .iter()
                    .map(|p| match p {
                        ContentPart::Text(t) => {
                            ContentPart::Text(self.tokenizer.neutralize_markup(t).into_owned())
                        }
                        image => image.clone(),
                    })
                    .collect(),
            })
            .collect();
        let messages = messages.as_slice();
        go_on()?;
        let prompt = self.template.render(messages, true)?;
        let images = messages
            .iter()
            .flat_map(|m| m.images())
            .map(|src| {
                go_on()?;
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
        go_on()?;
        let ids = self.tokenizer.encode(&expanded)?;
        let image_tokens = count_image_tokens(&ids, self.config.image_token_id);
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
}
