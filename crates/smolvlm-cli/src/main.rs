//! `smolvlm`: the engine from the command line, for scripts, checks and benchmarks.

mod batch;
mod bench;
mod generate;
mod model_args;
mod models;
mod pages;
mod resolution;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "smolvlm",
    version,
    about = "Run SmolVLM vision-language models locally"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Answer one prompt, with optional images, and stream the answer (or print JSON).
    Generate(generate::GenerateArgs),
    /// List, download, remove and locate models (catalog ids or org/repo[@revision]).
    Models(models::ModelsArgs),
    /// Measure load time, vision encode per tile, prefill and decode speed and peak memory.
    Bench(bench::BenchArgs),
    /// Ask one prompt of many images (folders walked recursively), locally or at an
    /// OpenAI-compatible endpoint; one JSON line per image, resumable.
    Batch(batch::BatchArgs),
    /// Serve an OpenAI-compatible API (chat completions, streaming, models) on this machine.
    Serve(serve::ServeArgs),
    /// Look at PDF pages as a model is shown them: render a page to PNG, list page sizes.
    Pdf(pages::PdfArgs),
}

/// Everything the CLI can fail with; the engine's errors keep their codes.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Engine(#[from] smolvlm::Error),
    #[error(transparent)]
    Hub(#[from] smolvlm_hub::HubError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    #[error("{file}: {error}")]
    Pdf {
        file: String,
        error: smolvlm_pdf::PdfError,
    },
}

impl CliError {
    pub fn code(&self) -> &'static str {
        match self {
            CliError::Engine(e) => e.code(),
            CliError::Hub(e) => e.code(),
            CliError::Output(_) => "io",
            CliError::Pdf { error, .. } => error.code(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (result, json) = match cli.command {
        Command::Generate(args) => {
            let json = args.json;
            (generate::run(args), json)
        }
        Command::Models(args) => {
            let json = args.json();
            (models::run(args), json)
        }
        Command::Bench(args) => {
            let json = args.json;
            (bench::run(args), json)
        }
        Command::Pdf(args) => {
            let json = args.json();
            (pages::run(args), json)
        }
        // Its own exit statuses (interrupted, bad flags) and per-file errors in its output.
        Command::Batch(args) => return batch::main(args),
        // Runs until Ctrl+C or SIGTERM; its own errors (a taken port) are printed by it.
        Command::Serve(args) => return serve::main(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if json {
                let obj =
                    serde_json::json!({"error": {"code": e.code(), "message": e.to_string()}});
                println!("{obj}");
            }
            ExitCode::FAILURE
        }
    }
}
