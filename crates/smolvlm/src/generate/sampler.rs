//! Picks the next token from the logits: greedy, or seeded sampling with temperature, top-k and
//! top-p, after an optional repetition penalty.

use candle_core::Tensor;
use candle_transformers::generation::{LogitsProcessor, Sampling};

use super::params::SamplingParams;
use crate::error::Result;

pub struct Sampler {
    processor: Option<LogitsProcessor>,
    repetition_penalty: f32,
}

impl Sampler {
    pub fn new(params: &SamplingParams) -> Self {
        let processor = (params.temperature > 0.0).then(|| {
            let temperature = params.temperature;
            let sampling = match (params.top_k, params.top_p) {
                (Some(k), Some(p)) if p < 1.0 => Sampling::TopKThenTopP { k, p, temperature },
                (Some(k), _) => Sampling::TopK { k, temperature },
                (None, Some(p)) if p < 1.0 => Sampling::TopP { p, temperature },
                _ => Sampling::All { temperature },
            };
            LogitsProcessor::from_sampling(params.seed, sampling)
        });
        Self {
            processor,
            repetition_penalty: params.repetition_penalty,
        }
    }

    /// `logits`: (vocab,) f32; `context`: prompt and answer so far, for the repetition penalty.
    pub fn sample(&mut self, logits: &Tensor, context: &[u32]) -> Result<u32> {
        let logits = if self.repetition_penalty != 1.0 {
            candle_transformers::utils::apply_repeat_penalty(
                logits,
                self.repetition_penalty,
                context,
            )?
        } else {
            logits.clone()
        };
        match &mut self.processor {
            Some(p) => Ok(p.sample(&logits)?),
            None => argmax(&logits.to_vec1::<f32>()?),
        }
    }
}

/// The first index of the largest logit, as torch's argmax picks on ties.
fn argmax(logits: &[f32]) -> Result<u32> {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    Ok(best as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn logits(v: &[f32]) -> Tensor {
        Tensor::new(v, &Device::Cpu).unwrap()
    }

    #[test]
    fn greedy_takes_the_first_maximum() {
        let mut s = Sampler::new(&SamplingParams::default());
        assert_eq!(s.sample(&logits(&[0.0, 3.0, 3.0, 1.0]), &[]).unwrap(), 1);
    }

    #[test]
    fn repetition_penalty_moves_greedy_off_a_seen_token() {
        let params = SamplingParams {
            repetition_penalty: 2.0,
            ..Default::default()
        };
        let mut s = Sampler::new(&params);
        assert_eq!(s.sample(&logits(&[0.0, 3.0, 2.0]), &[1]).unwrap(), 2);
    }

    #[test]
    fn sampling_is_reproducible_for_a_seed_and_respects_top_k() {
        let params = SamplingParams {
            temperature: 1.0,
            top_k: Some(2),
            seed: 7,
            ..Default::default()
        };
        let l = logits(&[1.0, 1.0, 0.5, -5.0, 0.9]);
        let draw = |params: &SamplingParams| {
            let mut s = Sampler::new(params);
            (0..200)
                .map(|_| s.sample(&l, &[]).unwrap())
                .collect::<Vec<_>>()
        };
        let a = draw(&params);
        assert_eq!(a, draw(&params));
        assert!(a.iter().all(|&t| t == 0 || t == 1), "top-k 2 drew {a:?}");
        assert!(a.contains(&0) && a.contains(&1));
    }
}
