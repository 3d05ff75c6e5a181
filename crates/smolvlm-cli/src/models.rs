//! `smolvlm models list|download|remove|path`, and the resolution of `generate --model` through
//! the Hugging Face cache when it names a catalog id or `org/repo[@revision]` instead of a path.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use smolvlm_hub::catalog::{self, CatalogEntry, DEFAULT_MODEL, Format};
use smolvlm_hub::{
    CancelToken, DownloadEvent, Hub, HubCache, HubConfig, HubError, InstalledModel, LocalRegistry,
    ModelSpec, RegisteredModel, Snapshot,
};

use crate::CliError;

#[derive(Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// The catalog, what is installed in the Hugging Face cache, and registered local models.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Fetch a catalog id or any org/repo[@revision] into the cache (resumes, verifies).
    Download {
        /// A catalog id (see `smolvlm models list`) or org/repo[@revision].
        model: String,
        /// Only files matching this glob (repeatable); the default is the catalog entry's files,
        /// or every file of a repository.
        #[arg(long = "include")]
        include: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a model from the cache (a catalog GGUF entry removes only its own two files).
    Remove {
        model: String,
        #[arg(long)]
        json: bool,
    },
    /// Print where a downloaded model is (from the cache only, no network).
    Path {
        model: String,
        #[arg(long)]
        json: bool,
    },
}

impl ModelsArgs {
    pub fn json(&self) -> bool {
        match &self.command {
            ModelsCommand::List { json }
            | ModelsCommand::Download { json, .. }
            | ModelsCommand::Remove { json, .. }
            | ModelsCommand::Path { json, .. } => *json,
        }
    }
}

pub fn run(args: ModelsArgs) -> Result<(), CliError> {
    match args.command {
        ModelsCommand::List { json } => list(json),
        ModelsCommand::Download {
            model,
            include,
            json,
        } => {
            let mut spec = ModelSpec::parse(&model)?;
            if !include.is_empty() {
                spec.include = include;
            }
            let snap = download(&spec, json)?;
            print_snapshot(&spec, &snap, json)
        }
        ModelsCommand::Remove { model, json } => {
            let spec = ModelSpec::parse(&model)?;
            let cfg = HubConfig::from_env()?;
            let report = smolvlm_hub::remove(&cfg.cache, &spec, None)?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer(&mut out, &report).map_err(std::io::Error::from)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "removed {} ({} freed)",
                    spec.catalog_id.as_deref().unwrap_or(&spec.repo),
                    human_bytes(report.freed_bytes)
                )?;
            }
            Ok(())
        }
        ModelsCommand::Path { model, json } => {
            let spec = ModelSpec::parse(&model)?;
            let hub = Hub::new(HubConfig::from_env()?)?;
            let snap = hub.locate(&spec)?;
            print_snapshot(&spec, &snap, json)
        }
    }
}

#[derive(Serialize)]
struct SnapshotJson<'a> {
    #[serde(flatten)]
    snapshot: &'a Snapshot,
    /// What to pass to `generate --model`: the folder, or the GGUF text model.
    model_path: PathBuf,
    mmproj_path: Option<PathBuf>,
}

fn print_snapshot(spec: &ModelSpec, snap: &Snapshot, json: bool) -> Result<(), CliError> {
    let (model_path, mmproj_path) = load_paths(spec, snap)?;
    let mut out = std::io::stdout().lock();
    if json {
        let obj = SnapshotJson {
            snapshot: snap,
            model_path,
            mmproj_path,
        };
        serde_json::to_writer(&mut out, &obj).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", model_path.display())?;
        if let Some(p) = mmproj_path {
            writeln!(out, "{}", p.display())?;
        }
    }
    Ok(())
}

/// The folder for safetensors models; the text model and its projector for GGUF entries (paired
/// by the hub's one policy, [`smolvlm_hub::pair_mmproj`], which takes the catalog's own pair).
fn load_paths(spec: &ModelSpec, snap: &Snapshot) -> Result<(PathBuf, Option<PathBuf>), CliError> {
    match spec.catalog_id.as_deref().and_then(catalog::find) {
        Some(CatalogEntry {
            gguf_model: Some(m),
            ..
        }) => {
            let model = snap.path_of(m);
            let mmproj = smolvlm_hub::pair_mmproj(&model)?;
            Ok((model, mmproj))
        }
        _ => Ok((snap.dir.clone(), None)),
    }
}

/// Downloads with a progress bar on stderr (drawn only on a terminal) and one summary line.
fn download(spec: &ModelSpec, quiet_summary: bool) -> Result<Snapshot, CliError> {
    let hub = Hub::new(HubConfig::from_env()?)?;
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:30!} [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    let tty = std::io::stderr().is_terminal();
    let result = hub.download(spec, &CancelToken::new(), &mut |event| match event {
        DownloadEvent::Plan {
            total_bytes,
            to_transfer_bytes,
            ..
        } => {
            bar.set_length(*total_bytes);
            bar.set_position(total_bytes - to_transfer_bytes);
        }
        DownloadEvent::FileStarted { file, .. } => bar.set_message(file.clone()),
        DownloadEvent::Progress { done, .. } => bar.set_position(*done),
        DownloadEvent::Retrying {
            file,
            attempt,
            wait_ms,
            reason,
        } => bar.println(format!(
            "retry {attempt} for {} in {wait_ms} ms: {reason}",
            file.as_deref().unwrap_or("model info")
        )),
        DownloadEvent::FileDone { file, cached, .. } if !tty => {
            eprintln!(
                "{file}: {}",
                if *cached {
                    "cached"
                } else {
                    "downloaded, verified"
                }
            );
        }
        _ => {}
    });
    bar.finish_and_clear();
    let snap = result?;
    if !quiet_summary || !tty {
        eprintln!(
            "{}@{} ({}): {} files, {} transferred{}",
            spec.repo,
            spec.revision,
            &snap.commit[..snap.commit.len().min(12)],
            snap.files.len(),
            human_bytes(snap.transferred_bytes),
            if snap.from_cache_only {
                ", from the cache"
            } else {
                ", verified"
            }
        );
    }
    Ok(snap)
}

#[derive(Serialize)]
struct CatalogRow<'a> {
    #[serde(flatten)]
    entry: &'a CatalogEntry,
    default: bool,
    installed: bool,
}

#[derive(Serialize)]
struct ListJson<'a> {
    cache: &'a Path,
    catalog: Vec<CatalogRow<'a>>,
    installed: &'a [InstalledModel],
    local: &'a [RegisteredModel],
}

fn list(json: bool) -> Result<(), CliError> {
    let cfg = HubConfig::from_env()?;
    let cache: &HubCache = &cfg.cache;
    let installed = smolvlm_hub::list_installed(cache, None);
    let local = match LocalRegistry::default_path() {
        Some(p) => LocalRegistry::new(p).list()?,
        None => Vec::new(),
    };
    let is_installed = |id: &str| {
        installed
            .iter()
            .any(|m| m.catalog_ids.iter().any(|c| c == id))
    };
    let rows: Vec<CatalogRow> = catalog::catalog()
        .iter()
        .map(|e| CatalogRow {
            entry: e,
            default: e.id == DEFAULT_MODEL,
            installed: is_installed(e.id),
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        let obj = ListJson {
            cache: cache.root(),
            catalog: rows,
            installed: &installed,
            local: &local,
        };
        serde_json::to_writer(&mut out, &obj).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<26} {:<12} {:>9} {:>9} {:>5}  {:<9}  good for",
        "id", "form", "download", "memory", "tok/t", "status"
    )?;
    for r in &rows {
        let e = r.entry;
        let form = match e.format {
            Format::Safetensors => "safetensors".to_string(),
            Format::Gguf => format!("gguf {}", e.precision),
        };
        let status = match (r.installed, r.default) {
            (true, _) => "installed",
            (false, true) => "default",
            _ => "",
        };
        writeln!(
            out,
            "{:<26} {:<12} {:>9} {:>9} {:>5}  {:<9}  {}",
            e.id,
            form,
            format!("~{}", human_bytes(e.approx_download_bytes)),
            format!("~{}", human_bytes(e.approx_memory_bytes)),
            e.tokens_per_tile,
            status,
            e.good_for
        )?;
    }
    writeln!(out, "\ncache: {}", cache.root().display())?;
    for m in &installed {
        writeln!(
            out,
            "  {:<48} {:>9}{}{}",
            m.repo,
            human_bytes(m.disk_bytes),
            if m.partial_bytes > 0 {
                format!(" ({} partial)", human_bytes(m.partial_bytes))
            } else {
                String::new()
            },
            if m.catalog_ids.is_empty() {
                String::new()
            } else {
                format!("  [{}]", m.catalog_ids.join(", "))
            }
        )?;
    }
    for m in &local {
        writeln!(out, "  {:<48} local: {}", m.id, m.path.display())?;
    }
    Ok(())
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `generate --model`: an existing path is used as given (the engine's behaviour is unchanged);
/// a catalog id or `org/repo[@revision]` is looked up in the cache and downloaded on demand
/// (unless `HF_HUB_OFFLINE` is set); a GGUF catalog entry also gives its projector. Anything else
/// is passed through for the engine to report.
pub fn resolve_model_arg(model: &Path) -> Result<(PathBuf, Option<PathBuf>), CliError> {
    if model.exists() || model.is_absolute() {
        return Ok((model.to_path_buf(), None));
    }
    let Some(text) = model.to_str() else {
        return Ok((model.to_path_buf(), None));
    };
    if text.starts_with('.') || text.contains('\\') {
        return Ok((model.to_path_buf(), None));
    }
    let spec = match ModelSpec::parse(text) {
        Ok(spec) => spec,
        Err(HubError::InvalidModelId(_)) => return Ok((model.to_path_buf(), None)),
        Err(e) => return Err(e.into()),
    };
    let snap = download(&spec, false)?;
    load_paths(&spec, &snap)
}
