//! The worker thread: takes requests off the queue one at a time, and restarts itself after a
//! panic with nothing of the old thread's state.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;

use smolvlm::{GenerationEvent, GenerationSummary, LoadOptions, SmolVlmModel, StopReason, Timings};

use crate::shared::{Shared, lock};
use crate::status::{ImageGeometry, ModelInfo, ModelState};
use crate::{ErrorInfo, Job, JobEvent, WorkerError};

pub(crate) enum Request {
    Load {
        path: PathBuf,
        options: LoadOptions,
        reply: Sender<Result<ModelInfo, WorkerError>>,
    },
    Generate {
        job: Job,
        queued_at: Instant,
    },
    Unload {
        reply: Sender<Result<(), WorkerError>>,
    },
    #[cfg(feature = "test-hooks")]
    Panic {
        reply: Sender<Result<(), WorkerError>>,
    },
}

pub(crate) fn start_thread(rx: Receiver<Request>, shared: Arc<Shared>) {
    // Without its thread the worker answers nothing; failing to start one is the process's end.
    std::thread::Builder::new()
        .name("smolvlm-worker".into())
        .spawn(move || worker_main(rx, shared))
        .expect("spawning the model worker thread");
}

/// The loaded model, if any, and where it came from.
#[derive(Default)]
struct Loaded {
    model: Option<(PathBuf, SmolVlmModel)>,
}

fn worker_main(rx: Receiver<Request>, shared: Arc<Shared>) {
    let mut loaded = Loaded::default();
    while let Ok(req) = rx.recv() {
        let (report, job) = failure_reporter(&req);
        let outcome = catch_unwind(AssertUnwindSafe(|| handle(&mut loaded, req, &shared)));
        if let Err(panic) = outcome {
            let message = panic_message(panic.as_ref());
            // The model may be half-way through a step: never use it again.
            *lock(&shared.geometry) = None;
            let _ = catch_unwind(AssertUnwindSafe(|| drop(loaded.model.take())));
            let error = WorkerError::Panicked(message);
            if let Some(id) = job {
                shared.settle(id);
            }
            shared.update(|s| {
                s.state = ModelState::Empty;
                s.model = None;
                s.loading = None;
                s.job_id = None;
                s.restarts += 1;
                s.last_error = Some(ErrorInfo::from(&error));
            });
            // The status is settled before the requester hears of the failure.
            let _ = catch_unwind(AssertUnwindSafe(move || report(error)));
            start_thread(rx, shared);
            return;
        }
    }
}

type Reporter = Box<dyn FnOnce(WorkerError) + Send>;

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
        #[cfg(feature = "test-hooks")]
        Request::Panic { reply } => {
            let reply = reply.clone();
            (Box::new(move |e| drop(reply.send(Err(e)))), None)
        }
        Request::Generate { job, .. } => {
            let sink = job.sink.clone();
            (
                Box::new(move |e| sink.emit(JobEvent::Failed(e))),
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
            let _ = reply.send(load(loaded, &path, &options, shared));
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
        #[cfg(feature = "test-hooks")]
        Request::Panic { .. } => panic!("panic requested by a test"),
        Request::Generate { job, queued_at } => {
            let id = job.id;
            run_job(loaded, job, queued_at, shared);
            shared.settle(id);
        }
    }
}

fn load(
    loaded: &mut Loaded,
    path: &Path,
    options: &LoadOptions,
    shared: &Shared,
) -> Result<ModelInfo, WorkerError> {
    // Free the old model first: two in memory at once may not fit.
    *lock(&shared.geometry) = None;
    loaded.model = None;
    shared.update(|s| {
        s.state = ModelState::Loading;
        s.model = None;
        s.loading = Some(path.to_path_buf());
        s.last_error = None;
    });
    match SmolVlmModel::load(path, options) {
        Ok(m) => {
            let info = ModelInfo::of(path, &m);
            *lock(&shared.geometry) = Some(ImageGeometry::of(&m));
            loaded.model = Some((path.to_path_buf(), m));
            shared.update(|s| {
                s.state = ModelState::Ready;
                s.model = Some(info.clone());
                s.loading = None;
            });
            Ok(info)
        }
        Err(e) => {
            let e = WorkerError::from(e);
            shared.update(|s| {
                s.state = ModelState::Empty;
                s.loading = None;
                s.last_error = Some(ErrorInfo::from(&e));
            });
            Err(e)
        }
    }
}

fn run_job(loaded: &mut Loaded, job: Job, queued_at: Instant, shared: &Shared) {
    let Job {
        id,
        model,
        conversation,
        longest_edge,
        params,
        sink,
        cancel,
    } = job;
    // The job is over for everyone before its last event goes out: whoever hears the end may
    // submit the next one at once, and is not refused as the queue's last place.
    let mut settled = false;
    let mut settle = || {
        if !std::mem::replace(&mut settled, true) {
            shared.settle(id);
            shared.update(|s| {
                if s.state == ModelState::Generating {
                    s.state = ModelState::Ready;
                }
                s.job_id = None;
            });
        }
    };
    let mut emit = |e: JobEvent| {
        if matches!(
            e,
            JobEvent::Failed(_) | JobEvent::Engine(GenerationEvent::Done(_))
        ) {
            settle();
        }
        sink.emit(e)
    };
    emit(JobEvent::Started {
        queued_s: queued_at.elapsed().as_secs_f64(),
    });
    // Cancelled while it waited: it ends as a generation cancelled before its first step does,
    // without loading a model or reading an image for nothing.
    if cancel.is_cancelled() {
        emit(cancelled_before_prompt());
        return;
    }
    if let Some(choice) = model {
        let same = loaded
            .model
            .as_ref()
            .is_some_and(|(p, _)| *p == choice.path);
        if !same && let Err(e) = load(loaded, &choice.path, &choice.options, shared) {
            emit(JobEvent::Failed(e));
            return;
        }
    }
    let Some((_, m)) = loaded.model.as_mut() else {
        emit(JobEvent::Failed(WorkerError::NoModel));
        return;
    };
    shared.update(|s| {
        s.state = ModelState::Generating;
        s.job_id = Some(id);
    });
    let result = (|| -> Result<(), WorkerError> {
        let prompt = match m.prepare_cancellable(&conversation, longest_edge, &cancel) {
            Err(smolvlm::Error::Cancelled) => {
                emit(cancelled_before_prompt());
                return Ok(());
            }
            prepared => prepared?,
        };
        for event in m.generate(prompt, params, cancel) {
            emit(JobEvent::Engine(event?));
        }
        Ok(())
    })();
    if let Err(e) = result {
        // A failure part-way leaves the cache's contents unknown.
        m.clear_cache();
        emit(JobEvent::Failed(e));
    }
    settle();
}

/// The end of a job cancelled before its prompt was made: no tokens, nothing timed.
fn cancelled_before_prompt() -> JobEvent {
    JobEvent::Engine(GenerationEvent::Done(GenerationSummary {
        text: String::new(),
        token_ids: Vec::new(),
        prompt_tokens: 0,
        image_tokens: 0,
        stop_reason: StopReason::Cancelled,
        timings: Timings::default(),
    }))
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
