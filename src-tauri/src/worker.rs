//! The app's side of the model worker (`smolvlm-worker`, the one thread that owns the model, which
//! the local API server shares): the UI's shapes of its status, and the chat's policy.
//!
//! The chat asks one answer at a time: [`WorkerHandle::generate`] refuses a second one with `busy`
//! while the first is pending or running (the UI disables Send meanwhile; refusing is clearer than
//! a hidden queue). Jobs of the local API wait in the same queue, so an answer may start after
//! theirs. Engine events become [`StreamEvent`]s here, token text coalesced per frame.

use std::path::Path;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use smolvlm::{CancelToken, LoadOptions, Message, SamplingParams};
use smolvlm_worker::{Job, JobEvent, JobSink, Worker, WorkerConfig, WorkerError, WorkerStatus};

use crate::error::{AppError, AppResult, ErrorPayload};
use crate::events::{Coalescer, StreamEvent};
use crate::sync::lock;

pub use smolvlm_worker::ImageGeometry;

type SinkFn = Box<dyn FnMut(StreamEvent) + Send>;

/// Where one answer's events go (a `tauri::ipc::Channel` in the app, a vector in tests).
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
    /// Why the model is on the CPU although the build has a GPU backend (`auto` fell back).
    pub device_notice: Option<String>,
    pub has_vision: bool,
    pub context_length: usize,
    #[specta(type = crate::foreign::Finite)]
    pub load_s: f64,
}

impl From<smolvlm_worker::ModelInfo> for ModelInfo {
    fn from(m: smolvlm_worker::ModelInfo) -> Self {
        Self {
            path: m.path.display().to_string(),
            name: m.name,
            device: m.device,
            kernels: m.kernels,
            threads: m.threads,
            device_notice: m.device_notice,
            has_vision: m.has_vision,
            context_length: m.context_length,
            load_s: m.load_s,
        }
    }
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
    /// The answer (or local API request) being generated.
    pub generation_id: Option<u64>,
    /// How many times the worker was restarted after a panic.
    pub restarts: u32,
    pub last_error: Option<ErrorPayload>,
}

impl From<WorkerStatus> for ModelStatus {
    fn from(s: WorkerStatus) -> Self {
        use smolvlm_worker::ModelState as W;
        Self {
            state: match s.state {
                W::Empty => ModelState::Empty,
                W::Loading => ModelState::Loading,
                W::Ready => ModelState::Ready,
                W::Generating => ModelState::Generating,
            },
            model: s.model.map(ModelInfo::from),
            loading: s.loading.map(|p| p.display().to_string()),
            generation_id: s.job_id,
            restarts: s.restarts,
            last_error: s.last_error.map(|e| ErrorPayload {
                code: e.code,
                message: e.message,
            }),
        }
    }
}

/// The chat's one answer at a time, whoever answers it (this computer's model or a connection):
/// its id and cancel token while it is pending or running.
#[derive(Clone, Default)]
pub struct ChatSlot(Arc<Mutex<Option<(u64, CancelToken)>>>);

impl ChatSlot {
    /// Takes the slot for answer `id`, or refuses with `busy`.
    pub fn begin(&self, id: u64, cancel: CancelToken) -> AppResult<()> {
        let mut slot = lock(&self.0);
        if let Some((running, _)) = slot.as_ref() {
            return Err(AppError::Busy(*running));
        }
        *slot = Some((id, cancel));
        Ok(())
    }

    pub fn finish(&self, id: u64) {
        let mut slot = lock(&self.0);
        if slot.as_ref().is_some_and(|(a, _)| *a == id) {
            *slot = None;
        }
    }

    pub fn active(&self) -> Option<u64> {
        lock(&self.0).as_ref().map(|(id, _)| *id)
    }

    /// Stops answer `id` if it is the one pending or running; false if it is not.
    pub fn cancel(&self, id: u64) -> bool {
        match lock(&self.0).as_ref() {
            Some((running, token)) if *running == id => {
                token.cancel();
                true
            }
            _ => false,
        }
    }

    /// `sink`, freeing the slot before the answer's last event goes out: whoever hears `done`
    /// (or `error`) may send the next message at once.
    pub fn releasing(&self, id: u64, sink: EventSink) -> impl FnMut(StreamEvent) + Send + use<> {
        let slot = self.clone();
        move |e: StreamEvent| {
            if matches!(e, StreamEvent::Done { .. } | StreamEvent::Error(_)) {
                slot.finish(id);
            }
            sink.emit(e)
        }
    }
}

/// Cheap to clone; every clone talks to the same worker.
#[derive(Clone)]
pub struct WorkerHandle {
    worker: Worker,
    chat: ChatSlot,
}

impl WorkerHandle {
    pub fn spawn(listener: StatusListener) -> Self {
        let worker = Worker::spawn(
            WorkerConfig::default(),
            Arc::new(move |s: &WorkerStatus| listener(&ModelStatus::from(s.clone()))),
        );
        Self {
            worker,
            chat: ChatSlot::default(),
        }
    }

    /// The worker itself, for the local API server to share.
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// The chat's answer slot, shared with answers from connections ([`crate::remote`]).
    pub fn chat(&self) -> &ChatSlot {
        &self.chat
    }

    pub fn status(&self) -> ModelStatus {
        ModelStatus::from(self.worker.status())
    }

    /// The loaded model's image geometry; `None` when no model is loaded.
    pub fn image_geometry(&self) -> Option<ImageGeometry> {
        self.worker.image_geometry()
    }

    /// Queues a load (with `options.threads` compute threads; 0: the engine decides); the answer
    /// arrives on the returned receiver.
    pub fn load(
        &self,
        path: &Path,
        options: LoadOptions,
    ) -> AppResult<Receiver<Result<smolvlm_worker::ModelInfo, WorkerError>>> {
        Ok(self.worker.load(path, options)?)
    }

    pub fn unload(&self) -> AppResult<Receiver<Result<(), WorkerError>>> {
        Ok(self.worker.unload()?)
    }

    /// A fresh generation id (ids are never reused within a run).
    pub fn next_generation_id(&self) -> u64 {
        self.worker.next_job_id()
    }

    /// Starts an answer by this computer's model, or refuses with `busy` while another answer
    /// is pending or running.
    pub fn generate(&self, job: GenerateJob) -> AppResult<u64> {
        let GenerateJob {
            id,
            conversation,
            longest_edge,
            params,
            sink,
            cancel,
        } = job;
        self.chat.begin(id, cancel.clone())?;
        let job = Job {
            id,
            model: None,
            conversation,
            longest_edge,
            params,
            sink: stream_sink(id, self.chat.releasing(id, sink)),
            cancel,
        };
        self.worker.submit(job).map_err(|e| {
            self.chat.finish(id);
            AppError::from(e)
        })
    }

    /// The chat's answer pending or running, if any.
    pub fn active_generation(&self) -> Option<u64> {
        self.chat.active()
    }

    /// Stops answer `id` if it is the one pending or running; false if it is not.
    pub fn cancel(&self, id: u64) -> bool {
        self.chat.cancel(id)
    }

    #[cfg(test)]
    pub(crate) fn request_panic(&self) -> AppResult<Receiver<Result<(), WorkerError>>> {
        Ok(self.worker.request_panic()?)
    }
}

/// The worker's events for answer `id` as the UI's stream.
fn stream_sink(id: u64, mut emit: impl FnMut(StreamEvent) + Send + 'static) -> JobSink {
    let mut coalescer = Coalescer::new(id);
    JobSink::new(move |event| match event {
        // Times count from here: waiting behind the local API's requests is not the model's.
        JobEvent::Started { .. } => coalescer = Coalescer::new(id),
        JobEvent::Engine(e) => coalescer.push(e, &mut emit),
        JobEvent::Failed(e) => {
            coalescer.flush_at(std::time::Instant::now(), &mut emit);
            emit(StreamEvent::Error(AppError::from(e).payload()));
        }
    })
}
