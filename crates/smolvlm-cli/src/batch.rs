//! `smolvlm batch`: one prompt over many images, one JSON line per image, resumable. Each image is
//! a fresh single-turn conversation, answered by the local model (exactly as `generate` would) or
//! by a remote OpenAI-compatible server (`--endpoint`).
//!
//! A bad file is a line with an `error`, never the end of the run; a run killed or interrupted
//! leaves a valid JSONL that the next run completes.

mod inputs;
mod local;
mod output;
mod record;
mod remote;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use smolvlm::CancelToken;

use crate::CliError;
use crate::generate::SamplingArgs;
use crate::model_args::LoadArgs;
use record::{FileError, Record};

#[derive(Args)]
pub struct BatchArgs {
    /// The local model, as `generate` takes it (a folder, a GGUF file, a catalog id or
    /// org/repo[@revision]); not with `--endpoint`.
    #[arg(long)]
    model: Option<PathBuf>,
    /// --mmproj, --device, --quant, --threads: how the local model loads.
    #[command(flatten)]
    load: LoadArgs,
    /// The question asked of every image.
    #[arg(long)]
    prompt: String,
    /// Images and PDFs, and folders searched recursively for png, jpg, jpeg, webp, gif, bmp, tif,
    /// tiff and pdf files (files named here are always tried, whatever their extension).
    #[arg(required = true, value_name = "DIR|FILE")]
    inputs: Vec<PathBuf>,
    /// The JSONL to append to; files it already has a line for are skipped (default: stdout, no
    /// resuming).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write a CSV (file, text, tokens, image_tokens, error_code, error_message) of every
    /// line, rewritten at the end.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Run the files the output records as failed again (their old lines are dropped).
    #[arg(long)]
    retry_failed: bool,
    /// The image resolution (local model only; a server picks its own).
    #[command(flatten)]
    resolution: crate::resolution::ResolutionArgs,
    /// The pages of every PDF shown with the prompt, from 1, e.g. 1,3-4 (default: the first);
    /// a PDF's pages go in one message and get one line, keyed by the file.
    #[arg(long, value_name = "LIST")]
    pages: Option<smolvlm_pdf::PageList>,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// An OpenAI-compatible server to send each image to instead of a local model, e.g.
    /// http://localhost:8080/v1.
    #[arg(long)]
    endpoint: Option<String>,
    /// The server's API key (default: `OPENAI_API_KEY`), sent as a bearer token.
    #[arg(long, requires = "endpoint")]
    api_key: Option<String>,
    /// The model to ask for at the endpoint (default: the one it lists as loaded, else its first).
    #[arg(long, requires = "endpoint")]
    remote_model: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Cli(#[from] CliError),
    #[error("{0}")]
    Usage(String),
    #[error("{path} line {line} is not a batch result ({reason}); fix or remove that line")]
    CorruptOutput {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the CSV {path}: {source}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
}

impl BatchError {
    pub(crate) fn write(path: &Path, source: std::io::Error) -> Self {
        BatchError::Write {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Answers one image; the local model and the remote endpoint are the two.
trait Answerer {
    fn answer(&mut self, file: &Path, cancel: &CancelToken) -> Result<record::Answer, FileError>;
}

#[derive(Debug, Default)]
struct Counts {
    done: usize,
    skipped: usize,
    failed: usize,
    left: usize,
}

/// Exit status: 0 when the run went through every file (whatever each one's result: the output
/// says), 1 on a fatal error, 2 on bad flags, 130 when interrupted.
pub fn main(args: BatchArgs) -> ExitCode {
    match run(args) {
        Ok(counts) if counts.left > 0 => ExitCode::from(130),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if matches!(e, BatchError::Usage(_)) {
                2
            } else {
                1
            })
        }
    }
}

fn run(args: BatchArgs) -> Result<Counts, BatchError> {
    check_flags(&args)?;
    let files = inputs::collect(&args.inputs, |warning| eprintln!("warning: {warning}"));
    let (mut out, mut records) = match &args.out {
        Some(path) => output::Output::resume(path, args.retry_failed)?,
        None => (output::Output::stdout(), Vec::new()),
    };
    let already: std::collections::HashSet<&str> =
        records.iter().map(|r| r.file.as_str()).collect();
    let total = files.len();
    let pending: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| !already.contains(record::file_key(f).as_str()))
        .collect();
    let mut counts = Counts {
        skipped: total - pending.len(),
        ..Counts::default()
    };

    let cancel = CancelToken::new();
    if !pending.is_empty() {
        let mut answerer = answerer(&args)?;
        install_interrupt(&cancel);
        let bar = progress_bar(pending.len());
        for (i, file) in pending.iter().enumerate() {
            if cancel.is_cancelled() {
                counts.left = pending.len() - i;
                break;
            }
            bar.set_message(record::file_key(file));
            let rec = match answerer.answer(file, &cancel) {
                Ok(answer) => {
                    counts.done += 1;
                    Record::answered(file, answer)
                }
                Err(FileError::Cancelled) => {
                    // Not recorded: the next run answers it from the start.
                    counts.left = pending.len() - i;
                    break;
                }
                Err(FileError::Failed(error)) => {
                    counts.failed += 1;
                    bar.suspend(|| {
                        eprintln!(
                            "{}: [{}] {}",
                            record::file_key(file),
                            error.code,
                            error.message
                        )
                    });
                    Record::failed(file, error)
                }
            };
            out.write(&rec)?;
            records.push(rec);
            bar.inc(1);
        }
        bar.finish_and_clear();
    }
    if let Some(csv) = &args.csv {
        output::write_csv(csv, &records)?;
    }
    eprintln!("{}", summary_line(&counts, args.out.as_deref()));
    Ok(counts)
}

fn check_flags(args: &BatchArgs) -> Result<(), BatchError> {
    match (&args.model, &args.endpoint) {
        (Some(_), Some(_)) => Err(BatchError::Usage(
            "--model loads a local model and --endpoint sends to a server: give one".into(),
        )),
        (None, None) => Err(BatchError::Usage(
            "give --model (a local model) or --endpoint (an OpenAI-compatible server)".into(),
        )),
        (None, Some(_)) => {
            let s = &args.sampling;
            let local_only = [
                (args.resolution.given(), "--longest-edge/--resolution"),
                (s.top_k.is_some(), "--top-k"),
                (s.repetition_penalty != 1.0, "--repetition-penalty"),
                (s.ignore_eos, "--ignore-eos"),
            ];
            match local_only.iter().find(|(given, _)| *given) {
                // OpenAI's API has no field for these: the server would silently ignore them.
                Some((_, flag)) => Err(BatchError::Usage(format!(
                    "{flag} applies to the local model only, not with --endpoint"
                ))),
                None => Ok(()),
            }
        }
        (Some(_), None) => Ok(()),
    }
}

fn answerer(args: &BatchArgs) -> Result<Box<dyn Answerer>, BatchError> {
    if let Some(url) = &args.endpoint {
        let key = args.api_key.clone().or_else(|| {
            std::env::var("OPENAI_API_KEY")
                .ok()
                .filter(|k| !k.is_empty())
        });
        let remote = remote::Remote::new(
            url,
            key,
            args.remote_model.clone(),
            &args.prompt,
            &args.sampling,
            pages(args),
            |warning| eprintln!("warning: {warning}"),
        )?;
        return Ok(Box::new(remote));
    }
    let model = args
        .model
        .as_ref()
        .ok_or_else(|| BatchError::Usage("--model is missing".into()))?;
    Ok(Box::new(local::Local::load(
        model,
        &args.load,
        &args.prompt,
        args.resolution.clone(),
        pages(args),
        args.sampling.params(),
    )?))
}

fn pages(args: &BatchArgs) -> smolvlm_pdf::PageList {
    args.pages
        .clone()
        .unwrap_or_else(smolvlm_pdf::PageList::first)
}

/// The first Ctrl+C (or SIGTERM) cancels the current image and ends the run after it, with the
/// output valid; a second one exits at once.
fn install_interrupt(cancel: &CancelToken) {
    let cancel = cancel.clone();
    let installed = ctrlc::set_handler(move || {
        if cancel.is_cancelled() {
            std::process::exit(130);
        }
        cancel.cancel();
        eprintln!("\ninterrupted: stopping (again to quit at once); rerun to resume");
    });
    if let Err(e) = installed {
        eprintln!("warning: Ctrl+C will not stop cleanly: {e}");
    }
}

fn progress_bar(len: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("[{wide_bar}] {pos}/{len} ETA {eta} {msg:30!}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn summary_line(c: &Counts, out: Option<&Path>) -> String {
    let mut line = format!(
        "batch: {} done, {} skipped, {} failed",
        c.done, c.skipped, c.failed
    );
    if c.left > 0 {
        line.push_str(&format!(
            ", {} not run (interrupted; rerun to resume)",
            c.left
        ));
    }
    if let Some(out) = out {
        line.push_str(&format!(" -> {}", out.display()));
    }
    line
}
