//! Speed measurement of a loaded model's parts, the way llama.cpp's `llama-bench` measures them so
//! the two can be compared: prefill of a batch of N prompt tokens (`pp N`) and decode of M tokens
//! one at a time from an empty context (`tg M`), plus the vision tower per image frame.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::Tensor;
use serde::Serialize;

use crate::engine::SmolVlmModel;
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Prompt tokens processed in one batch.
    pub prompt_tokens: usize,
    /// Tokens decoded one at a time (the end-of-sequence token does not stop them).
    pub decode_tokens: usize,
    /// An image whose frames go through the vision tower; none skips the vision measurement.
    pub image: Option<PathBuf>,
    /// Measured runs of each part, after one warm-up; the report keeps the mean.
    pub repetitions: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            prompt_tokens: 512,
            decode_tokens: 128,
            image: None,
            repetitions: 3,
        }
    }
}

/// The `smolvlm bench --json` object; its field names are a contract with scripts.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub load_s: f64,
    pub device: String,
    /// The CPU kernels' instruction set (`amx`, `avx512`, `avx2`, `neon`, `scalar`), so that
    /// figures from different machines say what they ran on.
    pub simd: String,
    pub threads: usize,
    pub vision_frames: usize,
    pub vision_s_per_tile: Option<f64>,
    pub prefill_tokens: usize,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens: usize,
    pub decode_tokens_per_s: f64,
    pub peak_rss_bytes: Option<u64>,
}

/// Runs the measurements on `model`, on its threads (its KV cache is cleared before and after).
pub fn run(model: &mut SmolVlmModel, options: &BenchOptions) -> Result<BenchReport> {
    let compute = model.compute().clone();
    compute.run(|| measure(model, options))
}

fn measure(model: &mut SmolVlmModel, options: &BenchOptions) -> Result<BenchReport> {
    let reps = options.repetitions.max(1);
    let vocab = model.config().text_config.vocab_size as u32;
    let load_s = model.load_seconds();
    let device = crate::device::device_name(model.device());

    let (vision_frames, vision_s_per_tile) = match &options.image {
        Some(path) => {
            let message = crate::Message::user_with_images(
                [crate::ImageSource::Path(path.clone())],
                "Describe this image.",
            );
            let prompt = model.prepare(&[message], None)?;
            let tile = prompt.tile;
            let pixels = Tensor::from_vec(
                prompt.pixel_values,
                (prompt.frames, 3, tile, tile),
                model.device(),
            )?;
            let net = model.network();
            let pixels = pixels.to_dtype(net.dtype())?;
            // One frame at a time, as generation encodes them.
            let encode_all = |net: &mut crate::model::SmolVlm| -> Result<()> {
                for f in 0..prompt.frames {
                    let out = net.encode_frames(&pixels.narrow(0, f, 1)?)?;
                    out.device().synchronize()?;
                }
                Ok(())
            };
            encode_all(net)?;
            let start = Instant::now();
            for _ in 0..reps {
                encode_all(net)?;
            }
            let per_tile = start.elapsed().as_secs_f64() / (reps * prompt.frames) as f64;
            (prompt.frames, Some(per_tile))
        }
        None => (0, None),
    };

    let text = model.network().text();
    // Token ids spread over the vocabulary, as llama-bench uses random ones: the embedding
    // lookups then touch memory the way real text does.
    let ids: Vec<u32> = (0..options.prompt_tokens.max(1) as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) % vocab)
        .collect();
    let prompt_ids = Tensor::new(ids.as_slice(), text.device())?;
    let prefill = |text: &mut crate::model::TextModel| -> Result<()> {
        text.clear_cache();
        let embeds = text.embed(&prompt_ids)?.unsqueeze(0)?;
        let logits = text.forward_embeds(&embeds)?;
        logits.device().synchronize()?;
        Ok(())
    };
    prefill(text)?;
    let start = Instant::now();
    for _ in 0..reps {
        prefill(text)?;
    }
    let prefill_s = start.elapsed().as_secs_f64() / reps as f64;

    let decode = |text: &mut crate::model::TextModel| -> Result<()> {
        text.clear_cache();
        let mut next = 1u32;
        for _ in 0..options.decode_tokens {
            let id = Tensor::new(&[next], text.device())?;
            let logits = text.forward_embeds(&text.embed(&id)?.unsqueeze(0)?)?;
            next = logits.squeeze(0)?.argmax(0)?.to_scalar::<u32>()?;
        }
        Ok(())
    };
    decode(text)?;
    let start = Instant::now();
    for _ in 0..reps {
        decode(text)?;
    }
    let decode_s = start.elapsed().as_secs_f64() / reps as f64;
    text.clear_cache();
    model.clear_cache();

    Ok(BenchReport {
        load_s,
        device,
        simd: crate::SimdLevel::detect().name().to_string(),
        threads: model.threads(),
        vision_frames,
        vision_s_per_tile,
        prefill_tokens: ids.len(),
        prefill_tokens_per_s: ids.len() as f64 / prefill_s,
        decode_tokens: options.decode_tokens,
        decode_tokens_per_s: options.decode_tokens as f64 / decode_s,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// The process's peak resident set (Linux `VmHWM`); `None` where the OS does not say.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
