//! PDF input: `--pages` lists, each chosen page rendered in process (`smolvlm-pdf`) into a
//! lossless PNG image for the engine, and `smolvlm pdf render` for looking at exactly what a
//! model is shown.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use smolvlm::{CancelToken, ImageSource};
use smolvlm_pdf::{Document, Limits, PageList, PdfError};

use crate::CliError;

/// The longest edge PDF pages are rendered at: the one the processor resizes to (`--longest-edge`,
/// else the model's), never above the processor's own cap, so no pixel is rendered to be
/// thrown away.
pub fn render_edge(model: &smolvlm::SmolVlmModel, longest_edge: Option<u32>) -> u32 {
    longest_edge
        .unwrap_or(model.processor().config().longest_edge)
        .min(smolvlm::image::MAX_IMAGE_SIZE)
}

/// The images one input stands for: a PDF's chosen pages (each a PNG of its render, named
/// `file.pdf#page=N`), or the file itself.
pub fn images_of(
    path: &Path,
    pages: &PageList,
    longest_edge: u32,
    cancel: &CancelToken,
) -> Result<Vec<ImageSource>, CliError> {
    if !smolvlm_pdf::is_pdf_file(path) {
        return Ok(vec![ImageSource::Path(path.to_path_buf())]);
    }
    Ok(render_pages(path, pages, longest_edge, cancel)?
        .into_iter()
        .map(|(name, png)| ImageSource::Bytes {
            name,
            data: Arc::from(png),
        })
        .collect())
}

/// Each chosen page of `path` as `(file.pdf#page=N, PNG bytes)`. PNG is lossless: the engine
/// decodes exactly the rendered pixels.
pub fn render_pages(
    path: &Path,
    pages: &PageList,
    longest_edge: u32,
    cancel: &CancelToken,
) -> Result<Vec<(String, Vec<u8>)>, CliError> {
    let doc = open(path)?;
    pages
        .pages()
        .iter()
        .map(|&n| {
            let image = doc
                .render(n - 1, longest_edge, cancel)
                .map_err(|e| in_file(path, e))?;
            let png = image.to_png().map_err(|e| in_file(path, e))?;
            Ok((format!("{}#page={n}", path.display()), png))
        })
        .collect()
}

fn open(path: &Path) -> Result<Document, CliError> {
    // A file's errors name the file: "x.pdf: the PDF is encrypted …".
    Document::open_file(path, &Limits::default()).map_err(|e| in_file(path, e))
}

fn in_file(path: &Path, error: PdfError) -> CliError {
    CliError::Pdf {
        file: path.display().to_string(),
        error,
    }
}

#[derive(Args)]
pub struct PdfArgs {
    #[command(subcommand)]
    command: PdfCommand,
}

#[derive(Subcommand)]
enum PdfCommand {
    /// Render one page to a PNG: at a DPI, or at the longest edge a model is shown it at.
    Render(RenderArgs),
    /// Print the page count and each page's size in points (after /Rotate).
    Info {
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct RenderArgs {
    file: PathBuf,
    /// The page, from 1.
    #[arg(long, default_value_t = 1)]
    page: usize,
    /// Pixels per inch (poppler's pixel size: ceil(points × dpi / 72) a side).
    #[arg(long, conflicts_with = "longest_edge")]
    dpi: Option<f64>,
    /// The longest edge in pixels, as `generate --longest-edge` renders it (default 2048 when
    /// neither this nor --dpi is given).
    #[arg(long)]
    longest_edge: Option<u32>,
    /// The PNG to write.
    #[arg(long)]
    out: PathBuf,
}

/// The longest edge of `smolvlm pdf render` without flags: SmolVLM's usual processor edge.
const DEFAULT_RENDER_EDGE: u32 = 2048;

impl PdfArgs {
    pub fn json(&self) -> bool {
        matches!(self.command, PdfCommand::Info { json: true, .. })
    }
}

pub fn run(args: PdfArgs) -> Result<(), CliError> {
    match args.command {
        PdfCommand::Render(r) => {
            let doc = open(&r.file)?;
            let cancel = CancelToken::new();
            let index = r.page.checked_sub(1).ok_or_else(|| {
                in_file(
                    &r.file,
                    PdfError::NoSuchPage {
                        page: 0,
                        count: doc.page_count(),
                    },
                )
            })?;
            let image = match r.dpi {
                Some(dpi) => doc.render_at_dpi(index, dpi, &cancel),
                None => doc.render(
                    index,
                    r.longest_edge.unwrap_or(DEFAULT_RENDER_EDGE),
                    &cancel,
                ),
            }
            .map_err(|e| in_file(&r.file, e))?;
            std::fs::write(&r.out, image.to_png().map_err(|e| in_file(&r.file, e))?)?;
            Ok(())
        }
        PdfCommand::Info { file, json } => {
            let doc = open(&file)?;
            let sizes = (0..doc.page_count())
                .map(|i| doc.page_size_pt(i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| in_file(&file, e))?;
            if json {
                let pages: Vec<_> = sizes
                    .iter()
                    .map(|(w, h)| serde_json::json!({"width_pt": w, "height_pt": h}))
                    .collect();
                println!("{}", serde_json::json!({"pages": pages}));
            } else {
                println!("{} pages", sizes.len());
                for (i, (w, h)) in sizes.iter().enumerate() {
                    println!("page {}: {w:.1} × {h:.1} pt", i + 1);
                }
            }
            Ok(())
        }
    }
}
