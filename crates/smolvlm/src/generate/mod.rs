//! The generation loop as an iterator of events. Each `next()` does one step of work (one image
//! frame, the prompt, or one token), so a caller can stream, cancel between steps, or drop the
//! iterator to stop.

mod events;
mod params;
mod prefix;
mod sampler;

use std::time::Instant;

use candle_core::Tensor;
use smolvlm_text::StreamDecoder;

pub use events::{GenerationEvent, GenerationSummary, StopReason, Timings};
pub use params::{CancelToken, SamplingParams};
use sampler::Sampler;

use crate::engine::{PreparedPrompt, SmolVlmModel};
use crate::error::{Error, Result};
use crate::model::SmolVlm;

enum Phase {
    Announce,
    Vision { next_frame: usize },
    Prefill,
    Decode,
    Finish(StopReason),
    Over,
}

pub struct Generation<'a> {
    net: &'a mut SmolVlm,
    /// Keys of the positions the KV cache holds (kept in the model across generations).
    cached_keys: &'a mut Vec<u64>,
    /// Keys of this prompt's positions.
    keys: Vec<u64>,
    /// Prompt positions taken from the cache.
    reused: usize,
    /// First frame whose tokens are not all in the reused prefix.
    first_frame: usize,
    tokens_per_frame: usize,
    decoder: StreamDecoder<'a>,
    stop_ids: &'a [u32],
    prompt: PreparedPrompt,
    params: SamplingParams,
    cancel: CancelToken,
    sampler: Sampler,
    phase: Phase,
    features: Vec<Tensor>,
    generated: Vec<u32>,
    text: String,
    timings: Timings,
    decode_started: Option<Instant>,
}

impl<'a> Generation<'a> {
    pub(crate) fn new(
        model: &'a mut SmolVlmModel,
        prompt: PreparedPrompt,
        params: SamplingParams,
        cancel: CancelToken,
    ) -> Self {
        let timings = Timings {
            load_s: model.load_s,
            ..Timings::default()
        };
        let tokens_per_frame = model.config.tokens_per_frame();
        let image_token_id = model.config.image_token_id;
        let keys = prefix::position_keys(
            &prompt.ids,
            image_token_id,
            &prompt.pixel_values,
            prompt.frames,
            tokens_per_frame,
        );
        let reused = prefix::reusable(&model.cached_keys, &keys);
        let cached_image_tokens = prompt.ids[..reused]
            .iter()
            .filter(|&&t| t == image_token_id)
            .count();
        Self {
            net: &mut model.net,
            cached_keys: &mut model.cached_keys,
            keys,
            reused,
            first_frame: cached_image_tokens / tokens_per_frame,
            tokens_per_frame,
            decoder: StreamDecoder::new(&model.tokenizer, true),
            stop_ids: &model.stop_ids,
            sampler: Sampler::new(&params),
            prompt,
            params,
            cancel,
            phase: Phase::Announce,
            features: Vec::new(),
            generated: Vec::new(),
            text: String::new(),
            timings,
            decode_started: None,
        }
    }

    /// Runs to the end and returns the summary, for callers that do not stream.
    pub fn run(self) -> Result<GenerationSummary> {
        for event in self {
            if let GenerationEvent::Done(summary) = event? {
                return Ok(summary);
            }
        }
        Err(Error::InvalidRequest(
            "generation ended without a summary".into(),
        ))
    }

    fn step(&mut self) -> Result<Option<GenerationEvent>> {
        if self.cancel.is_cancelled() && !matches!(self.phase, Phase::Finish(_) | Phase::Over) {
            self.phase = Phase::Finish(StopReason::Cancelled);
        }
        match std::mem::replace(&mut self.phase, Phase::Over) {
            Phase::Announce => {
                self.phase = Phase::Vision {
                    next_frame: self.first_frame,
                };
                Ok(Some(GenerationEvent::Prompt {
                    prompt_tokens: self.prompt.ids.len(),
                    image_tokens: self.prompt.image_tokens,
                    frames: self.prompt.frames - self.first_frame,
                    reused_tokens: self.reused,
                }))
            }
            Phase::Vision { next_frame } if next_frame < self.prompt.frames => {
                let started = Instant::now();
                let tile = self.prompt.tile;
                let len = 3 * tile * tile;
                let pixels = &self.prompt.pixel_values[next_frame * len..(next_frame + 1) * len];
                let pixels = Tensor::from_slice(pixels, (1, 3, tile, tile), self.net.device())?;
                self.features
                    .push(self.net.encode_frames(&pixels)?.squeeze(0)?);
                self.timings.vision_s += started.elapsed().as_secs_f64();
                self.phase = Phase::Vision {
                    next_frame: next_frame + 1,
                };
                Ok(Some(GenerationEvent::ImageProgress {
                    frames_done: next_frame + 1 - self.first_frame,
                    frames_total: self.prompt.frames - self.first_frame,
                }))
            }
            Phase::Vision { .. } => {
                self.phase = Phase::Prefill;
                self.step()
            }
            Phase::Prefill => {
                let started = Instant::now();
                let features = if self.features.is_empty() {
                    None
                } else {
                    // The first encoded frame may straddle the reused prefix: drop its rows that
                    // the cache already holds.
                    let all = Tensor::cat(&self.features, 0)?;
                    let cached_rows = self.prompt.ids[..self.reused]
                        .iter()
                        .filter(|&&t| t == self.net.image_token_id())
                        .count()
                        - self.first_frame * self.tokens_per_frame;
                    let rows = all.dim(0)? - cached_rows;
                    Some(all.narrow(0, cached_rows, rows)?)
                };
                self.features.clear();
                let embeds = self
                    .net
                    .prompt_embeddings(&self.prompt.ids[self.reused..], features.as_ref())?;
                // Until the pass succeeds the cache's content is unknown.
                self.cached_keys.clear();
                let text = self.net.text();
                text.truncate_cache(self.reused);
                let logits = text.forward_embeds(&embeds)?;
                *self.cached_keys = std::mem::take(&mut self.keys);
                let event = self.accept(&logits)?;
                self.timings.prefill_s = started.elapsed().as_secs_f64();
                self.decode_started = Some(Instant::now());
                Ok(Some(event))
            }
            Phase::Decode => {
                let last = *self
                    .generated
                    .last()
                    .expect("decode follows the first token");
                let embeds = self.net.prompt_embeddings(&[last], None)?;
                // Until the pass succeeds the cache's content is unknown.
                let mut keys = std::mem::take(self.cached_keys);
                let logits = self.net.text().forward_embeds(&embeds)?;
                keys.push(prefix::text_key(last));
                *self.cached_keys = keys;
                Ok(Some(self.accept(&logits)?))
            }
            Phase::Finish(reason) => Ok(Some(GenerationEvent::Done(self.summary(reason)?))),
            Phase::Over => Ok(None),
        }
    }

    /// Samples from `logits`, records the token and decides whether to go on.
    fn accept(&mut self, logits: &Tensor) -> Result<GenerationEvent> {
        let logits = logits.squeeze(0)?;
        let context: Vec<u32> = if self.params.repetition_penalty != 1.0 {
            self.prompt
                .ids
                .iter()
                .chain(&self.generated)
                .copied()
                .collect()
        } else {
            Vec::new()
        };
        let id = self.sampler.sample(&logits, &context)?;
        self.generated.push(id);
        let is_eos = !self.params.ignore_eos && self.stop_ids.contains(&id);
        let text = if is_eos {
            String::new()
        } else {
            self.decoder.push(id)?.unwrap_or_default()
        };
        self.text.push_str(&text);
        let positions = self.prompt.ids.len() + self.generated.len();
        self.phase = if is_eos {
            Phase::Finish(StopReason::Eos)
        } else if self.generated.len() >= self.params.max_new_tokens
            || positions >= self.net.text().max_positions()
        {
            Phase::Finish(StopReason::Length)
        } else {
            Phase::Decode
        };
        Ok(GenerationEvent::Token { id, text })
    }

    fn summary(&mut self, stop_reason: StopReason) -> Result<GenerationSummary> {
        if let Some(rest) = self.decoder.finish()? {
            self.text.push_str(&rest);
        }
        if let Some(started) = self.decode_started {
            self.timings.decode_s = started.elapsed().as_secs_f64();
            let steps = self.generated.len().saturating_sub(1);
            if self.timings.decode_s > 0.0 {
                self.timings.decode_tokens_per_s = steps as f64 / self.timings.decode_s;
            }
        }
        Ok(GenerationSummary {
            text: self.text.clone(),
            token_ids: self.generated.clone(),
            prompt_tokens: self.prompt.ids.len(),
            image_tokens: self.prompt.image_tokens,
            stop_reason,
            timings: self.timings.clone(),
        })
    }
}

impl Iterator for Generation<'_> {
    type Item = Result<GenerationEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(event) => event.map(Ok),
            Err(e) => {
                self.phase = Phase::Over;
                Some(Err(e))
            }
        }
    }
}
