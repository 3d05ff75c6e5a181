//! The one thread that owns the loaded model.
//!
//! Requests arrive as [`Request`]s over a channel and run one at a time, in order. Generation is
//! exclusive: [`WorkerHandle::generate`] refuses a second generation with `busy` while one is
//! pending or running (the UI disables Send meanwhile; refusing is clearer than a hidden queue).
//! Cancelling does not go through the queue — the queue is blocked by the very generation being
//! cancelled — but trips the generation's [`CancelToken`], which the engine checks between tokens
//! and image frames.
//!
//! The compute threads (the `threads` setting) are the engine's own business: they travel in
//! [`LoadOptions::threads`] and the model runs its kernels on that many threads itself
//! (`smolvlm::compute` says what else follows it); [`ModelInfo::threads`] is the number used.
//!
//! A panic while handling a request is caught: the requester gets `worker_panicked`, the model is
//! dropped (its state is unknown), and a fresh thread takes over the same request queue.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use smolvlm::{CancelToken, LoadOptions, Message, SamplingParams, SmolVlmModel};
use smolvlm_image::ImageProcessor;

use crate::error::{AppError, AppResult, ErrorPayload};
use crate::events::{Coalescer, StreamEvent};
use crate::sync::lock;

type SinkFn = Box<dyn FnMut(StreamEvent) + Send>;

/// Where one generation's events go (a `tauri::ipc::Channel` in the app, a vector in tests).
#[derive(Clone)]
pub struct EventSink(Arc<Mutex<SinkFn>>);

impl EventSink {
    pub fn new(f: impl FnMut(StreamEvent) + Send + 'static) -> Self {
        Self(Arc::new(Mutex::new(Box::new(f))))
    }

    pub fn emit(&self, event: StreamEvent) {
        let mut f = lock(&self.0);
        (*f)(event)
    }
}

pub type StatusListener = Arc<dyn Fn(&ModelStatus) + Send + Sync>;

pub enum Request {
    Load {
        path: PathBuf,
        options: LoadOptions,
        reply: Sender<AppResult<ModelInfo>>,
    },
    Generate(GenerateJob),
    Unload {
        reply: Sender<AppResult<()>>,
    },
    /// Test hook: panics inside the worker.
    #[cfg(test)]
    Panic {
        reply: Sender<AppResult<()>>,
    },
}

pub struct GenerateJob {
    pub id: u64,
    pub conversation: Vec<Message>,
    pub longest_edge: Option<u32>,
    pub params: SamplingParams,
    pub sink: EventSink,
    pub cancel: CancelToken,
}

#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    pub path: String,
    pub name: String,
    pub device: String,
    /// The CPU kernels' instruction set (`amx`, `avx512`, `avx2`, `neon`, `scalar`) when the
    /// model runs on the CPU; none on a GPU.
    pub kernels: Option<String>,
    /// The CPU threads the model computes on (the `threads` setting, or the engine's automatic
    /// choice for 0).
    pub threads: usize,
    pub has_vision: bool,
    pub context_length: usize,
    #[specta(type = crate::foreign::Finite)]
    pub load_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "kebab-case")]
pub enum ModelState {
    Empty,
    Loading,
    Ready,
    Generating,
}

/// What every window shows about the model (app event `model-status`, command `model_status`).
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ModelStatus {
    pub state: ModelState,
    pub model: Option<ModelInfo>,
    /// The path being loaded, while `state` is `loading`.
    pub loading: Option<String>,
    pub generation_id: Option<u64>,
    /// How many times the worker was restarted after a panic.
    pub restarts: u32,
    pub last_error: Option<ErrorPayload>,
}

/// What the loaded model does to images, for costing them without asking the worker (which may
/// be busy generating).
#[derive(Debug, Clone)]
pub struct ImageGeometry {
    pub processor: ImageProcessor,
    pub has_vision: bool,
    pub context_length: usize,
}

struct Shared {
    status: Mutex<ModelStatus>,
    geometry: Mutex<Option<ImageGeometry>>,
    active: Mutex<Option<(u64, CancelToken)>>,
    next_id: AtomicU64,
    listener: StatusListener,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut ModelStatus)) {
        let snapshot = {
            let mut s = lock(&self.status);
            f(&mut s);
            s.clone()
        };
        (self.listener)(&snapshot);
    }

    fn finish_generation(&self, id: u64) {
        let mut active = lock(&self.active);
        if active.as_ref().is_some_and(|(a, _)| *a == id) {
            *active = None;
        }
    }
}

/// Cheap to clone; every clone talks to the same worker.
#[derive(Clone)]
pub struct WorkerHandle {
    tx: Sender<Request>,
    shared: Arc<Shared>,
}

impl WorkerHandle {
    pub fn spawn(listener: StatusListener) -> Self {
        let (tx, rx) = channel();
        let shared = Arc::new(Shared {
            status: Mutex::new(ModelStatus {
                state: ModelState::Empty,
                model: None,
                loading: None,
                generation_id: None,
                restarts: 0,
                last_error: None,
            }),
            geometry: Mutex::new(None),
            active: Mutex::new(None),
            next_id: AtomicU64::new(1),
            listener,
        });
        start_thread(rx, shared.clone());
        Self { tx, shared }
    }

    pub fn status(&self) -> ModelStatus {
        lock(&self.shared.status).clone()
    }

    fn send(&self, req: Request) -> AppResult<()> {
        self.tx.send(req).map_err(|_| AppError::WorkerUnavailable)
    }

    /// The loaded model's image geometry; `None` when no model is loaded.
    pub fn image_geometry(&self) -> Option<ImageGeometry> {
        lock(&self.shared.geometry).clone()
    }

    /// Queues a load (with `options.threads` compute threads; 0: the engine decides); the answer
    /// arrives on the returned receiver.
    pub fn load(
        &self,
        path: &Path,
        options: LoadOptions,
    ) -> AppResult<Receiver<AppResult<ModelInfo>>> {
        let (reply, rx) = channel();
        self.send(Request::Load {
            path: path.to_path_buf(),
            options,
            reply,
        })?;
        Ok(rx)
    }

    pub fn unload(&self) -> AppResult<Receiver<AppResult<()>>> {
        let (reply, rx) = channel();
        self.send(Request::Unload { reply })?;
        Ok(rx)
    }

    /// A fresh generation id (ids are never reused within a run).
    pub fn next_generation_id(&self) -> u64 {
        self.shared.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Starts a generation, or refuses with `busy` while another one is pending or running.
    pub fn generate(&self, job: GenerateJob) -> AppResult<u64> {
        let id = job.id;
        {
            let mut active = lock(&self.shared.active);
            if let Some((running, _)) = active.as_ref() {
                return Err(AppError::Busy(*running));
            }
            *active = Some((id, job.cancel.clone()));
        }
        if let Err(e) = self.send(Request::Generate(job)) {
            self.shared.finish_generation(id);
            return Err(e);
        }
        Ok(id)
    }

    /// The generation pending or running, if any.
    pub fn active_generation(&self) -> Option<u64> {
        lock(&self.shared.active).as_ref().map(|(id, _)| *id)
    }

    /// Stops generation `id` if it is the one pending or running; false if it is not.
    pub fn cancel(&self, id: u64) -> bool {
        match lock(&self.shared.active).as_ref() {
            Some((running, token)) if *running == id => {
                token.cancel();
                true
            }
            _ => false,
        }
    }

    #[cfg(test)]
    pub(crate) fn request_panic(&self) -> AppResult<Receiver<AppResult<()>>> {
        let (reply, rx) = channel();
        self.send(Request::Panic { reply })?;
        Ok(rx)
    }
}

fn start_thread(rx: Receiver<Request>, shared: Arc<Shared>) {
    std::thread::Builder::new()
        .name("smolvlm-worker".into())
        .spawn(move || worker_main(rx, shared))
        .expect("spawning the model worker thread");
}

/// The loaded model, if any (it owns its compute threads).
#[derive(Default)]
struct Loaded {
    model: Option<SmolVlmModel>,
}

fn worker_main(rx: Receiver<Request>, shared: Arc<Shared>) {
    let mut loaded = Loaded::default();
    while let Ok(req) = rx.recv() {
        let (report, generation) = failure_reporter(&req);
        let outcome = catch_unwind(AssertUnwindSafe(|| handle(&mut loaded, req, &shared)));
        if let Err(panic) = outcome {
            let message = panic_message(panic.as_ref());
            // The model may be half-way through a step: never use it again.
            *lock(&shared.geometry) = None;
            let _ = catch_unwind(AssertUnwindSafe(|| drop(loaded.model.take())));
            let error = AppError::WorkerPanicked(message);
            let payload = error.payload();
            if let Some(id) = generation {
                shared.finish_generation(id);
            }
            shared.update(|s| {
                s.state = ModelState::Empty;
                s.model = None;
                s.loading = None;
                s.generation_id = None;
                s.restarts += 1;
                s.last_error = Some(payload);
            });
            // The status is settled before the requester hears of the failure.
            let _ = catch_unwind(AssertUnwindSafe(move || report(error)));
            // Restart: a fresh thread takes over the queue, with nothing of this one's state.
            start_thread(rx, shared);
            return;
        }
    }
}

type Reporter = Box<dyn FnOnce(AppError) + Send>;

/// How to tell a request's sender that it failed, kept outside the request so a panic in its
/// handling can still be reported.
fn failure_reporter(req: &Request) -> (Reporter, Option<u64>) {
    match req {
        Request::Load { reply, .. } => {
            let reply = reply.clone();
            (Box::new(move |e| drop(reply.send(Err(e)))), None)
        }
        Request::Unload { reply } => {
            let reply = reply.clone();
            (Box::new(move |e| drop(reply.send(Err(e)))), None)
        }
        #[cfg(test)]
        Request::Panic { reply } => {
            let reply = reply.clone();
            (Box::new(move |e| drop(reply.send(Err(e)))), None)
        }
        Request::Generate(job) => {
            let sink = job.sink.clone();
            (
                Box::new(move |e| sink.emit(StreamEvent::Error(e.payload()))),
                Some(job.id),
            )
        }
    }
}

fn handle(loaded: &mut Loaded, req: Request, shared: &Shared) {
    match req {
        Request::Load {
            path,
            options,
            reply,
        } => {
            // Free the old model first: two in memory at once may not fit.
            *lock(&shared.geometry) = None;
            loaded.model = None;
            shared.update(|s| {
                s.state = ModelState::Loading;
                s.model = None;
                s.loading = Some(path.display().to_string());
                s.last_error = None;
            });
            match SmolVlmModel::load(&path, &options).map_err(AppError::from) {
                Ok(m) => {
                    let info = model_info(&path, &m);
                    *lock(&shared.geometry) = Some(ImageGeometry {
                        processor: m.processor().clone(),
                        has_vision: m.has_vision(),
                        context_length: m.context_length(),
                    });
                    loaded.model = Some(m);
                    shared.update(|s| {
                        s.state = ModelState::Ready;
                        s.model = Some(info.clone());
                        s.loading = None;
                    });
                    let _ = reply.send(Ok(info));
                }
                Err(e) => {
                    shared.update(|s| {
                        s.state = ModelState::Empty;
                        s.loading = None;
                        s.last_error = Some(e.payload());
                    });
                    let _ = reply.send(Err(e));
                }
            }
        }
        Request::Unload { reply } => {
            *lock(&shared.geometry) = None;
            loaded.model = None;
            shared.update(|s| {
                s.state = ModelState::Empty;
                s.model = None;
            });
            let _ = reply.send(Ok(()));
        }
        #[cfg(test)]
        Request::Panic { .. } => panic!("panic requested by a test"),
        Request::Generate(job) => {
            let id = job.id;
            run_generation(&mut loaded.model, job, shared);
            shared.finish_generation(id);
        }
    }
}

fn run_generation(model: &mut Option<SmolVlmModel>, job: GenerateJob, shared: &Shared) {
    let GenerateJob {
        id,
        conversation,
        longest_edge,
        params,
        sink,
        cancel,
    } = job;
    let Some(m) = model.as_mut() else {
        sink.emit(StreamEvent::Error(AppError::NoModel.payload()));
        return;
    };
    shared.update(|s| {
        s.state = ModelState::Generating;
        s.generation_id = Some(id);
    });
    // The generation is over for everyone before its last event goes out: whoever hears `done`
    // (or `error`) may send the next message at once, and is not refused with `busy`.
    let mut settled = false;
    let mut settle = || {
        if !std::mem::replace(&mut settled, true) {
            shared.finish_generation(id);
            shared.update(|s| {
                s.state = ModelState::Ready;
                s.generation_id = None;
            });
        }
    };
    let mut coalescer = Coalescer::new(id);
    let mut emit = |e: StreamEvent| {
        if matches!(e, StreamEvent::Done { .. } | StreamEvent::Error(_)) {
            settle();
        }
        sink.emit(e)
    };
    let result = stream_answer(
        m,
        &conversation,
        longest_edge,
        params,
        cancel,
        &mut coalescer,
        &mut emit,
    );
    if let Err(e) = result {
        coalescer.flush_at(std::time::Instant::now(), &mut emit);
        // A failure part-way leaves the cache's contents unknown.
        m.clear_cache();
        emit(StreamEvent::Error(e.payload()));
    }
    settle();
}

fn stream_answer(
    m: &mut SmolVlmModel,
    conversation: &[Message],
    longest_edge: Option<u32>,
    params: SamplingParams,
    cancel: CancelToken,
    coalescer: &mut Coalescer,
    emit: &mut impl FnMut(StreamEvent),
) -> AppResult<()> {
    let prompt = m.prepare(conversation, longest_edge)?;
    for event in m.generate(prompt, params, cancel) {
        coalescer.push(event?, emit);
    }
    Ok(())
}

fn model_info(path: &Path, m: &SmolVlmModel) -> ModelInfo {
    let device = if m.device().is_cuda() {
        "cuda"
    } else if m.device().is_metal() {
        "metal"
    } else {
        "cpu"
    };
    ModelInfo {
        path: path.display().to_string(),
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string()),
        device: device.to_string(),
        kernels: (device == "cpu").then(|| smolvlm::SimdLevel::detect().name().to_string()),
        threads: m.threads(),
        has_vision: m.has_vision(),
        context_length: m.context_length(),
        load_s: m.load_seconds(),
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}
