//! Starting and stopping a server: it binds before [`start`] returns (so a taken port is an
//! error there), then serves on its own small tokio runtime thread until [`ServerHandle::shutdown`]
//! or the handle is dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use smolvlm_worker::Worker;
use tokio::sync::watch;

use crate::catalog::ModelCatalog;
use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::job::ActiveJobs;
use crate::routes::router;
use crate::state::AppState;

/// The HTTP work is parsing and forwarding; the model's work runs on the worker's thread.
const RUNTIME_THREADS: usize = 2;

/// A running server; dropping it shuts the server down (gracefully).
pub struct ServerHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
    worker: Worker,
    active: ActiveJobs,
}

impl ServerHandle {
    /// Where it listens (the port chosen when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections, cancels the answers in flight (their clients get the end of
    /// their stream), waits up to [`ServerConfig::shutdown_grace`] for them, and returns once the
    /// server's thread is gone.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    /// Whether the server's thread still runs.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    fn stop_now(&mut self) {
        let _ = self.stop.send(true);
        self.active.cancel_all(&self.worker);
        if let Some(t) = self.thread.take() {
            // A panic on the server thread has already been reported on stderr by the hook.
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Binds `config.addr` and serves the API over `worker` (shared with whoever else holds it:
/// the app's chat and the API use one model). `models` lists the models requests may name.
pub fn start(
    config: ServerConfig,
    worker: Worker,
    models: Arc<dyn ModelCatalog>,
) -> Result<ServerHandle, ServerError> {
    let addr = config.addr;
    let listener = std::net::TcpListener::bind(addr).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            ServerError::AddrInUse { addr }
        } else {
            ServerError::Bind { addr, source }
        }
    })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ServerError::Bind { addr, source })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_THREADS)
        .thread_name("smolvlm-server")
        .enable_all()
        .build()
        .map_err(ServerError::Runtime)?;
    let listener = {
        let _entered = runtime.enter();
        tokio::net::TcpListener::from_std(listener)
            .map_err(|source| ServerError::Bind { addr, source })?
    };
    let grace = config.shutdown_grace;
    let active = ActiveJobs::default();
    let app = router(AppState {
        worker: worker.clone(),
        catalog: models,
        config: Arc::new(config),
        active: active.clone(),
    })?;
    let (stop, mut stopped) = watch::channel(false);
    let mut stopped_too = stop.subscribe();
    let thread = std::thread::Builder::new()
        .name("smolvlm-server".into())
        .spawn(move || {
            runtime.block_on(async move {
                let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                });
                tokio::select! {
                    // An accept error ends the server; the handle then reports it not running.
                    result = serve => {
                        if let Err(e) = result {
                            eprintln!("smolvlm-server: {e}");
                        }
                    }
                    _ = async {
                        let _ = stopped_too.wait_for(|s| *s).await;
                        tokio::time::sleep(grace).await;
                    } => {}
                }
            });
            // Connections still open past the grace period are dropped with the runtime; their
            // jobs were cancelled when the shutdown began.
            runtime.shutdown_background();
        })
        .map_err(ServerError::Runtime)?;
    Ok(ServerHandle {
        addr: local,
        stop,
        thread: Some(thread),
        worker,
        active,
    })
}
