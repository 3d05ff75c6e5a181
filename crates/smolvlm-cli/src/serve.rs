//! `smolvlm serve`: the local OpenAI-compatible API (`smolvlm-server`) over a worker holding the
//! model given on the command line; requests may also name any model installed in the Hugging
//! Face cache, which the worker then loads in its place. Prints `listening on http://ADDR` on
//! stdout once it accepts connections; Ctrl+C or SIGTERM stops it gracefully.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::Args;
use smolvlm_hub::catalog::{self, CatalogEntry};
use smolvlm_hub::{HubCache, InstalledModel};
use smolvlm_server::{CatalogModel, ModelCatalog, ServerConfig, created_of};
use smolvlm_worker::{Worker, WorkerConfig, WorkerError};

use crate::model_args::LoadArgs;

#[derive(Args)]
pub struct ServeArgs {
    /// The model to load at start: a model folder, a GGUF file, a catalog id or
    /// org/repo[@revision] (downloaded if missing). Without it the first request naming an
    /// installed model loads it.
    #[arg(long)]
    model: Option<PathBuf>,
    /// --mmproj, --device, --quant, --threads: for every model the server loads.
    #[command(flatten)]
    load: LoadArgs,
    /// The address to listen on; anything but loopback exposes the API (and the images your
    /// files hold, by path) to the network: set --api-key then.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// 0 picks a free port (printed on the `listening on` line).
    #[arg(long, default_value_t = smolvlm_server::DEFAULT_PORT)]
    port: u16,
    /// Require `Authorization: Bearer <KEY>` on every /v1 request.
    #[arg(long)]
    api_key: Option<String>,
    /// Let browser pages from this origin call the API (repeat; `*` for any).
    #[arg(long = "cors-origin")]
    cors_origins: Vec<String>,
    /// Fetch http(s) image URLs (off by default: the server would fetch any URL a caller names).
    #[arg(long)]
    allow_remote_images: bool,
    /// --longest-edge or --resolution, for every image of every request.
    #[command(flatten)]
    resolution: crate::resolution::ResolutionArgs,
    /// Requests pending or running at most; more are answered 429.
    #[arg(long, default_value_t = WorkerConfig::default().queue_capacity)]
    queue_capacity: usize,
    /// The largest request body, in bytes.
    #[arg(long, default_value_t = smolvlm_server::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
}

#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error(transparent)]
    Cli(#[from] crate::CliError),
    #[error("cannot load {path}: {source}")]
    Load {
        path: PathBuf,
        #[source]
        source: WorkerError,
    },
    #[error(transparent)]
    Server(#[from] smolvlm_server::ServerError),
    #[error("cannot wait for Ctrl+C: {0}")]
    Signal(#[source] std::io::Error),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

pub fn main(args: ServeArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: ServeArgs) -> Result<(), ServeError> {
    let template = args.load.options();
    let worker = Worker::spawn(
        WorkerConfig {
            queue_capacity: args.queue_capacity,
        },
        Arc::new(|_| {}),
    );
    let given = match &args.model {
        Some(model) => Some(load_given(&worker, model, &args.load)?),
        None => None,
    };
    let config = ServerConfig {
        addr: SocketAddr::new(args.host, args.port),
        api_key: args.api_key,
        cors_origins: args.cors_origins,
        max_body_bytes: args.max_body_bytes,
        default_longest_edge: args.resolution.longest_edge,
        resolution: args.resolution.resolution,
        allow_remote_images: args.allow_remote_images,
        load_options: template,
        ..ServerConfig::default()
    };
    let models = Arc::new(CliCatalog {
        cache: HubCache::from_env(),
        given,
        listed: Mutex::new(None),
    });
    let server = smolvlm_server::start(config, worker, models)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{}", server.local_addr())?;
    out.flush()?;
    drop(out);
    wait_for_signal()?;
    eprintln!("shutting down");
    server.shutdown();
    Ok(())
}

/// Loads the command line's model through the worker, and names it for requests: its catalog
/// id or repository as typed, else its folder or file name.
fn load_given(worker: &Worker, model: &Path, load: &LoadArgs) -> Result<CatalogModel, ServeError> {
    let (path, options) = load.resolve(model)?;
    let loaded = worker
        .load(&path, options.clone())
        .and_then(|rx| rx.recv().map_err(|_| WorkerError::Unavailable)?)
        .map_err(|source| ServeError::Load {
            path: path.clone(),
            source,
        })?;
    eprintln!(
        "loaded {} on {}{} in {:.1}s",
        loaded.name,
        loaded.device,
        loaded
            .kernels
            .as_deref()
            .map(|k| format!(" ({k}, {} threads)", loaded.threads))
            .unwrap_or_default(),
        loaded.load_s
    );
    if let Some(notice) = &loaded.device_notice {
        eprintln!("notice: {notice}");
    }
    let id = if model.exists() {
        loaded.name.clone()
    } else {
        model.display().to_string()
    };
    Ok(CatalogModel {
        id,
        created: created_of(&path),
        path,
        mmproj: options.mmproj,
    })
}

/// Blocks until Ctrl+C or (on Unix) SIGTERM.
fn wait_for_signal() -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Signal)?;
    rt.block_on(async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .map_err(ServeError::Signal)?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r.map_err(ServeError::Signal),
                _ = term.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.map_err(ServeError::Signal)
        }
    })
}

/// Listing the cache walks every file for disk use; requests reuse a listing this long.
const RELIST_AFTER: Duration = Duration::from_secs(30);

/// The command line's model, then every complete catalog model in the Hugging Face cache.
struct CliCatalog {
    cache: Option<HubCache>,
    given: Option<CatalogModel>,
    listed: Mutex<Option<(Instant, Vec<CatalogModel>)>>,
}

impl ModelCatalog for CliCatalog {
    fn models(&self) -> Vec<CatalogModel> {
        let mut listed = self.listed.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = listed
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < RELIST_AFTER);
        if !fresh {
            let installed = self
                .cache
                .as_ref()
                .map(|c| installed_models(c, smolvlm_hub::list_installed(c, None)))
                .unwrap_or_default();
            *listed = Some((Instant::now(), installed));
        }
        let installed = listed.as_ref().map(|(_, m)| m.as_slice()).unwrap_or(&[]);
        let mut models: Vec<CatalogModel> = self.given.iter().cloned().collect();
        for m in installed {
            if !models.iter().any(|g| g.id == m.id) {
                models.push(m.clone());
            }
        }
        models
    }
}

fn installed_models(cache: &HubCache, installed: Vec<InstalledModel>) -> Vec<CatalogModel> {
    let mut out = Vec::new();
    for m in installed {
        for id in &m.catalog_ids {
            let Some(entry) = catalog::find(id) else {
                continue;
            };
            if let Some((path, mmproj)) = load_paths(cache, &m, entry) {
                out.push(CatalogModel {
                    id: id.clone(),
                    created: created_of(&path),
                    path,
                    mmproj,
                });
            }
        }
    }
    out
}

/// What to load for a catalog entry found in the cache: its revision's snapshot when the ref is
/// there, else the newest snapshot holding its files (as `smolvlm models path` resolves).
fn load_paths(
    cache: &HubCache,
    m: &InstalledModel,
    entry: &CatalogEntry,
) -> Option<(PathBuf, Option<PathBuf>)> {
    let has = |files: &[String]| match entry.gguf_model {
        Some(f) => files.iter().any(|x| x == f),
        None => files.iter().any(|x| x.ends_with(".safetensors")),
    };
    let by_ref = cache
        .resolve_revision(&m.repo, entry.revision)
        .and_then(|commit| m.snapshots.iter().find(|s| s.commit == commit))
        .filter(|s| has(&s.files));
    let snap = by_ref.or_else(|| m.snapshots.iter().rev().find(|s| has(&s.files)))?;
    match entry.gguf_model {
        Some(file) => {
            let model = snap.dir.join(file);
            let mmproj = smolvlm_hub::pair_mmproj(&model).ok().flatten();
            Some((model, mmproj))
        }
        None => Some((snap.dir.clone(), None)),
    }
}
