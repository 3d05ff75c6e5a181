//! Speed measurement of a loaded model's parts, the way llama.cpp's `llama-bench` measures them so
//! the two can be compared: prefill of a batch of N prompt tokens (`pp N`) and decode of M tokens
//! one at a time after D tokens already in the cache (`tg M @ d D`), plus the vision tower per
//! image frame.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::Tensor;
use serde::Serialize;

use crate::engine::SmolVlmModel;
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Prompt lengths, each processed in one batch from an empty cache (`pp N` each).
    pub prompt_tokens: Vec<usize>,
    /// Tokens decoded one at a time (the end-of-sequence token does not stop them).
    pub decode_tokens: usize,
    /// Context depths the decode runs after: that many tokens are prefilled (untimed) first, as
    /// llama-bench's `-d`; 0 is an empty context.
    pub decode_depths: Vec<usize>,
    /// An image whose frames go through the vision tower; none skips the vision measurement.
    pub image: Option<PathBuf>,
    /// The longest edge the image is resized to before tiling (`None`: the model's own).
    pub longest_edge: Option<u32>,
    /// Measured runs of each part, after a warm-up (for text: a short prompt and a few steps, once);
    /// the report keeps the mean.
    pub repetitions: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            prompt_tokens: vec![512],
            decode_tokens: 128,
            decode_depths: vec![0],
            image: None,
            longest_edge: None,
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
    /// The first of `prefill` (kept for scripts that read one figure).
    pub prefill_tokens: usize,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens: usize,
    /// The first of `decode`.
    pub decode_tokens_per_s: f64,
    /// One entry per prompt length asked for.
    pub prefill: Vec<PrefillRate>,
    /// One entry per context depth asked for.
    pub decode: Vec<DecodeRate>,
    pub peak_rss_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PrefillRate {
    pub tokens: usize,
    pub tokens_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecodeRate {
    /// Tokens in the cache before the first decoded one.
    pub depth: usize,
    pub tokens_per_s: f64,
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
            let prompt = model.prepare(&[message], options.longest_edge)?;
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
    // One warm-up for every text measurement: a short prompt and a few steps touch every weight
    // (the file's pages mapped, repacked weights in cache) without costing a long prefill again.
    {
        let ids = Tensor::new(spread_ids(64, vocab, 2).as_slice(), text.device())?;
        text.clear_cache();
        text.forward_embeds(&text.embed(&ids)?.unsqueeze(0)?)?;
        decode_steps(text, 4)?;
    }
    let mut prefill = Vec::new();
    for &n in &options.prompt_tokens {
        let ids = spread_ids(n.max(1), vocab, 0);
        let prompt_ids = Tensor::new(ids.as_slice(), text.device())?;
        let mut s = 0.0;
        for _ in 0..reps {
            text.clear_cache();
            text.reserve_cache(ids.len());
            let start = Instant::now();
            let embeds = text.embed(&prompt_ids)?.unsqueeze(0)?;
            let logits = text.forward_embeds(&embeds)?;
            logits.device().synchronize()?;
            s += start.elapsed().as_secs_f64();
        }
        prefill.push(PrefillRate {
            tokens: ids.len(),
            tokens_per_s: (ids.len() * reps) as f64 / s,
        });
    }

    let mut decode = Vec::new();
    for &depth in &options.decode_depths {
        // The context is filled before the clock starts, and again before each repetition:
        // decoding appends to it.
        let context = spread_ids(depth, vocab, 1);
        let context = (depth > 0)
            .then(|| Tensor::new(context.as_slice(), text.device()))
            .transpose()?;
        let run = |text: &mut crate::model::TextModel| -> Result<f64> {
            text.clear_cache();
            // Room for the whole run, as a generation reserves its token budget (and as
            // llama-bench's context is allocated before its clock starts).
            text.reserve_cache(depth + options.decode_tokens);
            if let Some(ids) = &context {
                let logits = text.forward_embeds(&text.embed(ids)?.unsqueeze(0)?)?;
                logits.device().synchronize()?;
            }
            let start = Instant::now();
            decode_steps(text, options.decode_tokens)?;
            Ok(start.elapsed().as_secs_f64())
        };
        let mut s = 0.0;
        for _ in 0..reps {
            s += run(text)?;
        }
        decode.push(DecodeRate {
            depth,
            tokens_per_s: (options.decode_tokens * reps) as f64 / s,
        });
    }
    text.clear_cache();
    model.clear_cache();
    let first_prefill = prefill.first().cloned().unwrap_or(PrefillRate {
        tokens: 0,
        tokens_per_s: 0.0,
    });
    let first_decode = decode.first().map_or(0.0, |d| d.tokens_per_s);

    Ok(BenchReport {
        load_s,
        device,
        simd: crate::SimdLevel::detect().name().to_string(),
        threads: model.threads(),
        vision_frames,
        vision_s_per_tile,
        prefill_tokens: first_prefill.tokens,
        prefill_tokens_per_s: first_prefill.tokens_per_s,
        decode_tokens: options.decode_tokens,
        decode_tokens_per_s: first_decode,
        prefill,
        decode,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// `n` greedy steps after what the cache holds, each token fed back as the next input.
fn decode_steps(text: &mut crate::model::TextModel, n: usize) -> Result<()> {
    let mut next = 1u32;
    for _ in 0..n {
        let id = Tensor::new(&[next], text.device())?;
        let logits = text.forward_embeds(&text.embed(&id)?.unsqueeze(0)?)?;
        next = logits.squeeze(0)?.argmax(0)?.to_scalar::<u32>()?;
    }
    Ok(())
}

/// `n` token ids spread over the vocabulary, as llama-bench uses random ones: the embedding
/// lookups then touch memory the way real text does. `salt` gives another sequence.
fn spread_ids(n: usize, vocab: u32, salt: u32) -> Vec<u32> {
    (0..n as u32)
        .map(|i| {
            (i.wrapping_add(salt.wrapping_mul(7919))
                .wrapping_mul(2_654_435_761)
                >> 7)
                % vocab
        })
        .collect()
}

/// The process's peak resident set (Linux `VmHWM`); `None` where the OS does not say.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
