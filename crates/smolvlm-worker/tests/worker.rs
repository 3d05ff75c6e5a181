//! The worker over the committed tiny model: jobs in order, the bounded queue, cancel, model
//! choice per job, and the restart after a panic.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smolvlm::{
    CancelToken, GenerationEvent, ImageSource, LoadOptions, Message, SamplingParams, StopReason,
};
use smolvlm_worker::{
    Job, JobEvent, JobSink, ModelChoice, ModelState, Worker, WorkerConfig, WorkerStatus,
};

const WAIT: Duration = Duration::from_secs(120);

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

fn tiny() -> PathBuf {
    fixture("tiny-smolvlm")
}

fn spawn(capacity: usize) -> (Worker, Arc<Mutex<Vec<WorkerStatus>>>) {
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let seen = statuses.clone();
    let w = Worker::spawn(
        WorkerConfig {
            queue_capacity: capacity,
        },
        Arc::new(move |s: &WorkerStatus| seen.lock().unwrap().push(s.clone())),
    );
    (w, statuses)
}

fn load(w: &Worker, path: &std::path::Path) {
    w.load(path, LoadOptions::default())
        .unwrap()
        .recv_timeout(WAIT)
        .unwrap()
        .unwrap();
}

fn job(w: &Worker, text: &str, max_new_tokens: usize) -> (Job, Receiver<JobEvent>) {
    let (tx, rx) = channel();
    let image = ImageSource::Path(tiny().join("img_wide_300x200.png"));
    let job = Job {
        id: w.next_job_id(),
        model: None,
        conversation: vec![Message::user_with_images([image], text)],
        longest_edge: None,
        params: SamplingParams {
            max_new_tokens,
            ..SamplingParams::default()
        },
        sink: JobSink::new(move |e| drop(tx.send(e))),
        cancel: CancelToken::new(),
    };
    (job, rx)
}

/// Every event of one job, up to its end.
fn events(rx: &Receiver<JobEvent>) -> Vec<JobEvent> {
    let mut out = Vec::new();
    loop {
        let e = rx.recv_timeout(WAIT).expect("the job ends");
        let end = matches!(
            e,
            JobEvent::Failed(_) | JobEvent::Engine(GenerationEvent::Done(_))
        );
        out.push(e);
        if end {
            return out;
        }
    }
}

fn summary(events: &[JobEvent]) -> &smolvlm::GenerationSummary {
    match events.last() {
        Some(JobEvent::Engine(GenerationEvent::Done(s))) => s,
        other => panic!("the job did not finish: {other:?}"),
    }
}

#[test]
fn jobs_run_in_order_and_report_started_then_the_engine() {
    let (w, statuses) = spawn(4);
    load(&w, &tiny());
    let (a, rx_a) = job(&w, "first", 4);
    let (b, rx_b) = job(&w, "second", 4);
    let (ida, idb) = (w.submit(a).unwrap(), w.submit(b).unwrap());
    assert!(ida < idb);
    let ea = events(&rx_a);
    let eb = events(&rx_b);
    for e in [&ea, &eb] {
        assert!(matches!(e[0], JobEvent::Started { .. }), "{:?}", e[0]);
        assert!(matches!(
            e[1],
            JobEvent::Engine(GenerationEvent::Prompt { .. })
        ));
        assert_eq!(summary(e).token_ids.len(), 4);
    }
    // The second waited for the first.
    let JobEvent::Started { queued_s } = eb[0] else {
        unreachable!()
    };
    assert!(queued_s > 0.0);
    assert_eq!(w.queued(), 0);
    let s = w.status();
    assert_eq!((s.state, s.queued, s.job_id), (ModelState::Ready, 0, None));
    assert!(
        statuses
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.state == ModelState::Generating)
    );
}

#[test]
fn a_full_queue_is_refused_and_a_settled_job_frees_its_place() {
    let (w, _) = spawn(1);
    load(&w, &tiny());
    let (a, rx_a) = job(&w, "long", 64);
    w.submit(a).unwrap();
    let (b, _) = job(&w, "refused", 4);
    let err = w.submit(b).unwrap_err();
    assert_eq!(err.code(), "queue_full");
    events(&rx_a);
    // Settled before its last event: a place is free the moment the end is heard.
    let (c, rx_c) = job(&w, "next", 2);
    w.submit(c).unwrap();
    events(&rx_c);
}

#[test]
fn cancel_stops_a_running_job_and_a_pending_one() {
    let (w, _) = spawn(4);
    load(&w, &tiny());
    let mut running = job(&w, "run", 10_000);
    running.0.params.ignore_eos = true;
    let mut pending = job(&w, "wait", 10_000);
    pending.0.params.ignore_eos = true;
    let (ra, rb) = (w.submit(running.0).unwrap(), w.submit(pending.0).unwrap());
    // Wait for the first token of the running one.
    loop {
        match running.1.recv_timeout(WAIT).unwrap() {
            JobEvent::Engine(GenerationEvent::Token { .. }) => break,
            JobEvent::Failed(e) => panic!("{e}"),
            _ => {}
        }
    }
    assert!(w.cancel(rb) && w.cancel(ra));
    let ea = events(&running.1);
    assert_eq!(summary(&ea).stop_reason, StopReason::Cancelled);
    let eb = events(&pending.1);
    let s = summary(&eb);
    assert_eq!(s.stop_reason, StopReason::Cancelled);
    assert!(s.token_ids.is_empty(), "{:?}", s.token_ids);
    assert!(!w.cancel(ra), "a settled job is no longer cancellable");
}

#[test]
fn a_job_cancelled_while_it_waits_loads_and_reads_nothing() {
    let (w, _) = spawn(4);
    load(&w, &tiny());
    let mut running = job(&w, "run", 10_000);
    running.0.params.ignore_eos = true;
    // Were it prepared, its missing image would fail it; were its model loaded, the bad path
    // would replace the loaded one with nothing.
    let (mut pending, rx) = job(&w, "wait", 4);
    pending.conversation = vec![Message::user_with_images(
        [ImageSource::Path(fixture("no-such-image.png"))],
        "wait",
    )];
    pending.model = Some(ModelChoice {
        path: fixture("no-such-model"),
        options: LoadOptions::default(),
    });
    let (ra, rb) = (w.submit(running.0).unwrap(), w.submit(pending).unwrap());
    loop {
        match running.1.recv_timeout(WAIT).unwrap() {
            JobEvent::Engine(GenerationEvent::Token { .. }) => break,
            JobEvent::Failed(e) => panic!("{e}"),
            _ => {}
        }
    }
    assert!(w.cancel(rb) && w.cancel(ra));
    events(&running.1);
    let ev = events(&rx);
    let s = summary(&ev);
    assert_eq!(s.stop_reason, StopReason::Cancelled);
    assert!(s.token_ids.is_empty() && s.prompt_tokens == 0, "{s:?}");
    assert_eq!(w.status().model.unwrap().path, tiny());
}

#[test]
fn a_job_loads_the_model_it_names_and_reports_a_bad_one() {
    let (w, _) = spawn(4);
    let (mut a, rx) = job(&w, "hello", 2);
    a.model = Some(ModelChoice {
        path: tiny(),
        options: LoadOptions::default(),
    });
    w.submit(a).unwrap();
    assert_eq!(summary(&events(&rx)).token_ids.len(), 2);
    assert_eq!(w.status().model.unwrap().path, tiny());

    let (mut b, rx) = job(&w, "hello", 2);
    b.model = Some(ModelChoice {
        path: fixture("no-such-model"),
        options: LoadOptions::default(),
    });
    w.submit(b).unwrap();
    match events(&rx).last() {
        Some(JobEvent::Failed(e)) => assert_ne!(e.code(), "worker_panicked", "{e}"),
        other => panic!("{other:?}"),
    }
    // A failed load leaves no model rather than a half-replaced one.
    let (c, rx) = job(&w, "hello", 2);
    w.submit(c).unwrap();
    match events(&rx).last() {
        Some(JobEvent::Failed(e)) => assert_eq!(e.code(), "no_model_loaded"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_panic_is_reported_and_a_fresh_thread_takes_over() {
    let (w, statuses) = spawn(4);
    load(&w, &tiny());
    let err = w
        .request_panic()
        .unwrap()
        .recv_timeout(WAIT)
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), "worker_panicked");
    let s = w.status();
    assert_eq!((s.state, s.restarts), (ModelState::Empty, 1));
    assert_eq!(s.last_error.unwrap().code, "worker_panicked");
    assert_eq!(statuses.lock().unwrap().last().unwrap().restarts, 1);
    assert!(w.image_geometry().is_none());
    load(&w, &tiny());
    let (a, rx) = job(&w, "hello", 2);
    w.submit(a).unwrap();
    assert_eq!(summary(&events(&rx)).token_ids.len(), 2);
}
