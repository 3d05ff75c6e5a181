//! The generation loop as an iterator of events. Each `next()` does one step of work (one image
//! frame, the prompt, or one token), so a caller can stream, cancel between steps, or drop the
//! iterator to stop.

mod events;
mod params;
mod sampler;

use std::time::Instant;

use candle_core::Tensor;
use smolvlm_text::StreamDecoder;

pub use events::{GenerationEvent, GenerationSummary, StopReason, Timings};
pub use params::SamplingParams;
use sampler::Sampler;
pub use smolvlm_cancel::CancelToken;

use crate::compute::Compute;
use crate::error::{Error, Result};
use crate::frontend::{Frontend, PreparedPrompt};
use crate::model::count_image_tokens;
use crate::session::{Session, position_keys};

enum Phase {
    Announce,
    Vision { next_frame: usize },
    Prefill,
    Decode,
    Finish(StopReason),
    Over,
}

pub struct Generation<'a> {
    front: &'a Frontend,
    /// The network and what its KV cache holds (kept in the model across generations).
    session: &'a mut Session,
    compute: &'a Compute,
    /// Keys of this prompt's positions, handed to the session once the prompt has run.
    keys: Vec<u64>,
    /// Prompt positions taken from the cache.
    reused: usize,
    /// First frame whose tokens are not all in the reused prefix.
    first_frame: usize,
    tokens_per_frame: usize,
    decoder: StreamDecoder<'a>,
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
        front: &'a Frontend,
        session: &'a mut Session,
        compute: &'a Compute,
        load_s: f64,
        prompt: PreparedPrompt,
        params: SamplingParams,
        cancel: CancelToken,
    ) -> Self {
        let timings = Timings {
            load_s,
            ..Timings::default()
        };
        let tokens_per_frame = front.config.tokens_per_frame();
        let keys = position_keys(
            &prompt.ids,
            front.config.image_token_id,
            &prompt.pixel_values,
            prompt.frames,
            tokens_per_frame,
        );
        let reused = session.reusable(&keys);
        let cached_image_tokens =
            count_image_tokens(&prompt.ids[..reused], front.config.image_token_id);
        Self {
            front,
            session,
            compute,
            keys,
            reused,
            first_frame: cached_image_tokens / tokens_per_frame,
            tokens_per_frame,
            decoder: StreamDecoder::new(&front.tokenizer, true),
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
                let net = self.session.net();
                let pixels = Tensor::from_slice(pixels, (1, 3, tile, tile), net.device())?;
                self.features.push(net.encode_frames(&pixels)?.squeeze(0)?);
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
                    let cached_rows = count_image_tokens(
                        &self.prompt.ids[..self.reused],
                        self.front.config.image_token_id,
                    ) - self.first_frame * self.tokens_per_frame;
                    let rows = all.dim(0)? - cached_rows;
                    Some(all.narrow(0, cached_rows, rows)?)
                };
                self.features.clear();
                let embeds = self
                    .session
                    .net()
                    .prompt_embeddings(&self.prompt.ids[self.reused..], features.as_ref())?;
                let keys = std::mem::take(&mut self.keys);
                let logits =
                    self.session
                        .prefill(self.reused, &embeds, keys, self.params.max_new_tokens)?;
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
                let embeds = self.session.net().prompt_embeddings(&[last], None)?;
                let logits = self.session.decode(last, &embeds)?;
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
        let is_eos = !self.params.ignore_eos && self.front.stop_ids.contains(&id);
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
            || positions >= self.session.max_positions()
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
        let compute = self.compute;
        match compute.run(|| self.step()) {
            Ok(event) => event.map(Ok),
            Err(e) => {
                self.phase = Phase::Over;
                Some(Err(e))
            }
        }
    }
}
