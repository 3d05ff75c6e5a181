//! `smolvlm bench`: load time, vision encode per tile, prefill and decode speed, peak memory —
//! measured like llama.cpp's `llama-bench` (pp N, tg M) so the two can be put side by side
//! (scripts/bench/).

use std::path::PathBuf;

use clap::Args;
use smolvlm::bench::{BenchOptions, BenchReport};

use crate::CliError;
use crate::model_args::ModelArgs;

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// An image to time the vision tower on (every frame it is split into).
    #[arg(long)]
    image: Option<PathBuf>,
    /// The longest edge the image is resized to before tiling, in pixels (default: the model's
    /// own; SmolVLM's documents use 5 tiles: `--longest-edge` 5 × the tile).
    #[arg(long)]
    longest_edge: Option<u32>,
    /// Prompt lengths, each prefilled in one batch from an empty context (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "512")]
    prompt_tokens: Vec<usize>,
    /// Tokens decoded one at a time.
    #[arg(long, default_value_t = 128)]
    decode_tokens: usize,
    /// Context depths to decode after (comma-separated), as llama-bench's `-d`: that many
    /// tokens are in the cache before the first decoded one.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    decode_depth: Vec<usize>,
    /// Measured runs of each part after a warm-up (the mean is reported).
    #[arg(long, default_value_t = 3)]
    repetitions: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: BenchArgs) -> Result<(), CliError> {
    let (mut model, _) = args.model.load()?;
    let report = smolvlm::bench::run(
        &mut model,
        &BenchOptions {
            prompt_tokens: args.prompt_tokens.clone(),
            decode_tokens: args.decode_tokens,
            decode_depths: args.decode_depth.clone(),
            image: args.image.clone(),
            longest_edge: args.longest_edge,
            repetitions: args.repetitions,
        },
    )?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(std::io::Error::from)?
        );
    } else {
        print_table(&report);
    }
    Ok(())
}

fn print_table(r: &BenchReport) {
    println!(
        "device           {} ({} threads, {} kernels)",
        r.device, r.threads, r.simd
    );
    println!("load             {:.3} s", r.load_s);
    match r.vision_s_per_tile {
        Some(s) => println!(
            "vision           {:.3} s per tile ({} tiles)",
            s, r.vision_frames
        ),
        None => println!("vision           not measured (no --image, or a text-only model)"),
    }
    for p in &r.prefill {
        println!(
            "prefill          {:.1} tok/s (pp{})",
            p.tokens_per_s, p.tokens
        );
    }
    for d in &r.decode {
        println!(
            "decode           {:.1} tok/s (tg{} @ d{})",
            d.tokens_per_s, r.decode_tokens, d.depth
        );
    }
    if let Some(b) = r.peak_rss_bytes {
        println!("peak RSS         {:.1} MiB", b as f64 / (1024.0 * 1024.0));
    }
}
