//! `smolvlm generate`: one user turn (images first, in the order given, then the text) through
//! the model's chat template with the generation prompt.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use smolvlm::{
    CancelToken, GenerationEvent, GenerationSummary, ImageSource, Message, SamplingParams,
    SmolVlmModel,
};
use smolvlm_hub::HubError;

use crate::CliError;
use crate::model_args::ModelArgs;

#[derive(Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// An image to ask about; repeat for several, in order. A PDF stands for its pages
    /// (`--pages`), each rendered at the longest edge the model is shown it at (`--resolution`;
    /// document by default).
    #[arg(long = "image")]
    images: Vec<PathBuf>,
    /// The pages of each PDF given, from 1, e.g. 1,3-4 (default: the first page); each becomes
    /// one image of the message, in this order.
    #[arg(long, value_name = "LIST")]
    pages: Option<smolvlm_pdf::PageList>,
    #[arg(long)]
    prompt: String,
    #[command(flatten)]
    sampling: SamplingArgs,
    #[command(flatten)]
    resolution: crate::resolution::ResolutionArgs,
    /// Print one JSON object with the answer, token ids, counts and timings.
    #[arg(long)]
    pub json: bool,
}

/// The sampling flags of every command that generates (`generate`, `batch`).
#[derive(Args)]
pub struct SamplingArgs {
    #[arg(long, default_value_t = 256)]
    pub max_new_tokens: usize,
    /// 0 is greedy decoding.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    #[arg(long)]
    pub top_k: Option<usize>,
    #[arg(long)]
    pub top_p: Option<f64>,
    #[arg(long, default_value_t = 1.0)]
    pub repetition_penalty: f32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep generating past the end-of-utterance token.
    #[arg(long)]
    pub ignore_eos: bool,
}

impl SamplingArgs {
    pub fn params(&self) -> SamplingParams {
        SamplingParams {
            max_new_tokens: self.max_new_tokens,
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            repetition_penalty: self.repetition_penalty,
            seed: self.seed,
            ignore_eos: self.ignore_eos,
        }
    }
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
    /// From the start of the turn (the images read and resized included) to the first token's
    /// text; what a user waits before the answer starts.
    first_token_s: Option<f64>,
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
    if args.pages.is_some() && !args.images.iter().any(|p| smolvlm_pdf::is_pdf_file(p)) {
        return Err(smolvlm::Error::InvalidRequest(
            "--pages chooses pages of a PDF, and no --image is one".into(),
        )
        .into());
    }
    let cancel = CancelToken::new();
    let pages = args
        .pages
        .clone()
        .unwrap_or_else(smolvlm_pdf::PageList::first);
    let has_pdf = args.images.iter().any(|p| smolvlm_pdf::is_pdf_file(p));
    let longest_edge = args
        .resolution
        .longest_edge(model.processor().config(), has_pdf);
    let edge = crate::pages::render_edge(&model, longest_edge);
    let mut images: Vec<ImageSource> = Vec::new();
    for path in &args.images {
        images.extend(crate::pages::images_of(path, &pages, edge, &cancel)?);
    }
    let mut stdout = std::io::stdout().lock();
    let started = std::time::Instant::now();
    let mut first_token_s = None;
    let summary = answer_one_turn(
        &mut model,
        images,
        &args.prompt,
        longest_edge,
        args.sampling.params(),
        cancel,
        |text| {
            first_token_s.get_or_insert_with(|| started.elapsed().as_secs_f64());
            if !args.json {
                stdout.write_all(text.as_bytes())?;
                stdout.flush()?;
            }
            Ok(())
        },
    )?;
    if args.json {
        let out = JsonOutput {
            text: &summary.text,
            token_ids: &summary.token_ids,
            prompt_tokens: summary.prompt_tokens,
            image_tokens: summary.image_tokens,
            stop_reason: summary.stop_reason,
            timings: &summary.timings,
            first_token_s,
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

/// One user turn (the images in order, then the text) through the chat template with the
/// generation prompt, run to its end; `on_token` gets each token's text as it streams. `generate`
/// and `batch` both answer through here, so a batch line has exactly `generate`'s tokens.
pub fn answer_one_turn(
    model: &mut SmolVlmModel,
    images: impl IntoIterator<Item = ImageSource>,
    prompt: &str,
    longest_edge: Option<u32>,
    params: SamplingParams,
    cancel: CancelToken,
    mut on_token: impl FnMut(&str) -> std::io::Result<()>,
) -> Result<GenerationSummary, CliError> {
    let message = Message::user_with_images(images, prompt);
    let prepared = model.prepare(&[message], longest_edge)?;
    let mut summary: Option<GenerationSummary> = None;
    for event in model.generate(prepared, params, cancel) {
        match event? {
            GenerationEvent::Token { text, .. } => on_token(&text)?,
            GenerationEvent::Done(s) => summary = Some(s),
            _ => {}
        }
    }
    Ok(summary.ok_or_else(|| {
        smolvlm::Error::InvalidRequest("the generation ended without a summary".into())
    })?)
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
