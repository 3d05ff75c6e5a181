//! Saving an answer as it streams: what it costs the thread the events arrive on, that a crash
//! still finds a recent snapshot, and that a failed save is told to the UI.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smolvlm::{Role, StopReason};

use super::harness::*;
use crate::events::{DoneTimings, StreamEvent};
use crate::recorder::AnswerRecorder;
use crate::store::{MessageStatus, Store, fsyncs};

/// A store with a conversation whose answer `m-a` is streaming.
fn streaming_answer(dir: &std::path::Path) -> (Arc<Store>, String) {
    let store = Arc::new(Store::open(dir).unwrap());
    let conv = store.create("t").unwrap().id;
    store
        .update(&conv, |c| {
            c.messages.push(message("m-q", Role::User, "q"));
            let mut a = message("m-a", Role::Assistant, "");
            a.status = MessageStatus::Streaming;
            c.messages.push(a);
        })
        .unwrap();
    (store, conv)
}

fn token(text: &str) -> StreamEvent {
    StreamEvent::Token {
        text: text.into(),
        count: 1,
    }
}

fn done() -> StreamEvent {
    StreamEvent::Done {
        stop_reason: StopReason::Eos,
        generated_tokens: 500,
        prompt_tokens: 10,
        image_tokens: 0,
        timings: DoneTimings {
            vision_s: 0.0,
            prefill_s: 0.1,
            decode_s: 10.0,
            decode_tokens_per_s: 50.0,
            first_token_s: Some(0.1),
            total_s: 10.1,
        },
    }
}

/// A 10-second answer at 50 tokens a second (the clock is the test's): before, every 250 ms the
/// events' thread rewrote the conversation with two fsyncs (82 for this answer); now it syncs
/// twice, at the end, and the snapshots (one a second, one fsync each) are another thread's.
#[test]
fn a_streaming_answer_costs_its_thread_two_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let (store, conv) = streaming_answer(dir.path());
    let convs = dir.path().join("conversations");
    let (thread_before, dir_before) = (fsyncs::on_this_thread(), fsyncs::in_dir(&convs));
    let mut recorder = AnswerRecorder::new(store.clone(), &conv, "m-a");
    let start = Instant::now();
    let mut expected = String::new();
    for i in 0..500u64 {
        let t = format!("t{i} ");
        expected.push_str(&t);
        assert!(
            recorder
                .observe_at(&token(&t), start + Duration::from_millis(20 * (i + 1)))
                .is_none()
        );
    }
    assert!(
        recorder
            .observe_at(&done(), start + Duration::from_secs(10))
            .is_none()
    );
    let on_thread = fsyncs::on_this_thread() - thread_before;
    let total = fsyncs::in_dir(&convs) - dir_before;
    eprintln!("fsyncs for a 10 s answer: {on_thread} on the events' thread, {total} in all");
    assert_eq!(on_thread, 2, "the final save: the file and its folder");
    assert!((2..=12).contains(&total), "{total}");
    let c = store.get(&conv).unwrap();
    assert_eq!(c.messages[1].text, expected);
    assert_eq!(c.messages[1].status, MessageStatus::Complete);
    assert_eq!(c.messages[1].generated_tokens, Some(500));
}

/// Crash safety stays: a snapshot reaches the disk while the answer streams.
#[test]
fn snapshots_reach_the_disk_while_the_answer_streams() {
    let dir = tempfile::tempdir().unwrap();
    let (store, conv) = streaming_answer(dir.path());
    let mut recorder = AnswerRecorder::new(store.clone(), &conv, "m-a");
    let start = Instant::now();
    recorder.observe_at(&token("The cat "), start);
    recorder.observe_at(&token("sat"), start + Duration::from_millis(1500));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // What a process killed now would find at its next start.
        let c = store.get(&conv).unwrap();
        if c.messages[1].text == "The cat sat" {
            assert_eq!(c.messages[1].status, MessageStatus::Streaming);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no snapshot: {:?}",
            c.messages[1]
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    recorder.observe_at(&done(), start + Duration::from_secs(2));
    assert_eq!(
        store.get(&conv).unwrap().messages[1].status,
        MessageStatus::Complete
    );
}

/// The conversation is deleted while the answer streams: the UI hears `save-failed` before
/// `done`, not just a line on stderr.
#[test]
fn a_failed_save_is_told_before_the_answer_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (store, conv) = streaming_answer(dir.path());
    let heard = Arc::new(Mutex::new(Vec::new()));
    let to = heard.clone();
    let sink = AnswerRecorder::new(store.clone(), &conv, "m-a")
        .into_sink(move |e| to.lock().unwrap().push(e));
    sink.emit(token("Hi"));
    store.delete(&conv).unwrap();
    sink.emit(done());
    let heard = heard.lock().unwrap();
    let types: Vec<&str> = heard
        .iter()
        .map(|e| match e {
            StreamEvent::Token { .. } => "token",
            StreamEvent::SaveFailed(_) => "save-failed",
            StreamEvent::Done { .. } => "done",
            _ => "other",
        })
        .collect();
    assert_eq!(types, ["token", "save-failed", "done"]);
    let StreamEvent::SaveFailed(e) = &heard[1] else {
        unreachable!()
    };
    assert_eq!(e.code, "not_found", "{e:?}");
    assert_eq!(
        serde_json::to_value(&heard[1]).unwrap()["type"],
        "save-failed"
    );

    // An answer whose message is gone from a conversation still there is not saved either.
    let (store, conv) = streaming_answer(&dir.path().join("b"));
    let mut recorder = AnswerRecorder::new(store.clone(), &conv, "m-gone");
    let told = recorder.observe(&done());
    assert!(
        matches!(&told, Some(StreamEvent::SaveFailed(e)) if e.code == "not_found"),
        "{told:?}"
    );
}
