//! `smolvlm generate`: one user turn (images first, in the order given, then the text) through
//! the model's chat template with the generation prompt.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use smolvlm::{
    CancelToken, GenerationEvent, GenerationSummary, ImageSource, Message, SamplingParams,
};
use smolvlm_hub::HubError;

use crate::CliError;
use crate::model_args::ModelArgs;

#[derive(Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// An image to ask about; repeat for several, in order.
    #[arg(long = "image")]
    images: Vec<PathBuf>,
    #[arg(long)]
    prompt: String,
    #[arg(long, default_value_t = 256)]
    max_new_tokens: usize,
    /// 0 is greedy decoding.
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    #[arg(long)]
    top_k: Option<usize>,
    #[arg(long)]
    top_p: Option<f64>,
    #[arg(long, default_value_t = 1.0)]
    repetition_penalty: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Resize images so their longest edge is this many pixels before tiling (default: the
    /// model's own, e.g. 4×512 for SmolVLM-256M; 5× its tile for documents, less for speed).
    #[arg(long)]
    longest_edge: Option<u32>,
    /// Keep generating past the end-of-utterance token.
    #[arg(long)]
    ignore_eos: bool,
    /// Print one JSON object with the answer, token ids, counts and timings.
    #[arg(long)]
    pub json: bool,
}

/// The `--json` output; its field names are a contract with scripts.
#[derive(Serialize)]
struct JsonOutput<'a> {
    text: &'a str,
    token_ids: &'a [u32],
    prompt_tokens: usize,
    image_tokens: usize,
    stop_reason: smolvlm::StopReason,
    timings: &'a smolvlm::Timings,
}

pub fn run(args: GenerateArgs) -> Result<(), CliError> {
    let (mut model, model_path) = args.model.load()?;
    if !model.has_vision() && !args.json {
        eprintln!(
            "[text-only: {} has no vision projector; pass --mmproj to ask about images{}]",
            model_path.display(),
            projector_hint(&model_path)
        );
    }
    let message = Message::user_with_images(
        args.images.iter().cloned().map(ImageSource::Path),
        &args.prompt,
    );
    let prompt = model.prepare(&[message], args.longest_edge)?;
    let params = SamplingParams {
        max_new_tokens: args.max_new_tokens,
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        repetition_penalty: args.repetition_penalty,
        seed: args.seed,
        ignore_eos: args.ignore_eos,
    };
    let mut stdout = std::io::stdout().lock();
    let mut summary: Option<GenerationSummary> = None;
    for event in model.generate(prompt, params, CancelToken::new()) {
        match event? {
            GenerationEvent::Token { text, .. } if !args.json => {
                stdout.write_all(text.as_bytes())?;
                stdout.flush()?;
            }
            GenerationEvent::Done(s) => summary = Some(s),
            _ => {}
        }
    }
    let summary = summary.ok_or_else(|| {
        smolvlm::Error::InvalidRequest("the generation ended without a summary".into())
    })?;
    if args.json {
        let out = JsonOutput {
            text: &summary.text,
            token_ids: &summary.token_ids,
            prompt_tokens: summary.prompt_tokens,
            image_tokens: summary.image_tokens,
            stop_reason: summary.stop_reason,
            timings: &summary.timings,
        };
        serde_json::to_writer(&mut stdout, &out).map_err(std::io::Error::from)?;
        writeln!(stdout)?;
    } else {
        writeln!(stdout)?;
        eprintln!(
            "[{} prompt tokens ({} image), {} generated, {:.1} tok/s, stopped: {:?}]",
            summary.prompt_tokens,
            summary.image_tokens,
            summary.token_ids.len(),
            summary.timings.decode_tokens_per_s,
            summary.stop_reason
        );
    }
    Ok(())
}

/// Where a GGUF loaded without `--mmproj` has a projector beside it (the hub's pairing policy),
/// says which, so the user can pass it; a path given is always loaded as given.
fn projector_hint(model_path: &Path) -> String {
    if !model_path.is_file() {
        return String::new();
    }
    match smolvlm_hub::pair_mmproj(model_path) {
        Ok(Some(p)) => format!(" (its projector looks like {})", p.display()),
        Err(HubError::AmbiguousMmproj { candidates, .. }) => {
            format!(" ({} projectors are beside it)", candidates.len())
        }
        _ => String::new(),
    }
}
