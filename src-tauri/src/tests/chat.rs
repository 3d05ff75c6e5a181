//! Asking the model: streaming, coalescing, saving, cancelling, one generation at a time.

use std::time::{Duration, Instant};

use serde_json::json;
use smolvlm::{GenerationEvent, GenerationSummary, StopReason, Timings};

use super::harness::*;
use crate::events::{Coalescer, StreamEvent};

#[test]
fn tokens_are_coalesced_per_frame() {
    let mut c = Coalescer::new(1);
    let t0 = Instant::now();
    let mut out = Vec::new();
    let token = |t: &str| GenerationEvent::Token {
        id: 0,
        text: t.into(),
    };
    // 100 tokens 1 ms apart: about one message per 16 ms, nothing lost, nothing reordered.
    for i in 0..100u64 {
        c.push_at(
            token(&format!("{i} ")),
            t0 + Duration::from_millis(i + 1),
            &mut |e| out.push(e),
        );
    }
    let summary = GenerationSummary {
        text: String::new(),
        token_ids: vec![0; 100],
        prompt_tokens: 10,
        image_tokens: 0,
        stop_reason: StopReason::Length,
        timings: Timings::default(),
    };
    c.push_at(
        GenerationEvent::Done(summary),
        t0 + Duration::from_millis(101),
        &mut |e| out.push(e),
    );
    let tokens: Vec<_> = out
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Token { text, count } => Some((text.clone(), *count)),
            _ => None,
        })
        .collect();
    assert!((6..=8).contains(&tokens.len()), "{} messages", tokens.len());
    assert_eq!(tokens.iter().map(|t| t.1).sum::<usize>(), 100);
    let text: String = tokens.iter().map(|t| t.0.as_str()).collect();
    let expected: String = (0..100).map(|i| format!("{i} ")).collect();
    assert_eq!(text, expected);
    assert!(matches!(
        out.last(),
        Some(StreamEvent::Done {
            generated_tokens: 100,
            ..
        })
    ));
}

#[test]
fn generate_streams_tokens_and_saves_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    h.load_tiny();
    let conv = h.new_conversation();
    let image = fixture_image("img_wide_300x200.png");
    let ticket = h
        .send(
            &conv,
            "What is in this image?",
            std::slice::from_ref(&image),
            json!({"maxNewTokens": 12, "ignoreEos": true}),
        )
        .unwrap();
    let events = h.wait_end();
    assert_eq!(events[0]["type"], "started", "{events:?}");
    assert_eq!(events[0]["generationId"], ticket["generationId"]);
    assert!(events[0]["imageTokens"].as_u64().unwrap() > 0);
    assert!(events.iter().any(|e| e["type"] == "image-progress"));
    let done = events.last().unwrap();
    assert_eq!(done["type"], "done", "{events:?}");
    assert_eq!(done["stopReason"], "length");
    assert_eq!(done["generatedTokens"], 12);
    let counted: u64 = events
        .iter()
        .filter(|e| e["type"] == "token")
        .map(|e| e["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 12);

    // Saved: the question with its stored image, the complete answer.
    let c = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    assert_eq!(c["title"], "What is in this image?");
    let msgs = c["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["role"], "user");
    assert_eq!(msgs[0]["images"][0]["width"], 300);
    assert_eq!(msgs[1]["status"], "complete");
    assert_eq!(msgs[1]["text"].as_str().unwrap(), answer_text(&events));
    assert_eq!(msgs[1]["generatedTokens"], 12);

    // A follow-up in the same conversation reuses the cached prefix (images not re-encoded).
    h.events.lock().unwrap().clear();
    h.send(
        &conv,
        "And the colours?",
        &[],
        json!({"maxNewTokens": 4, "ignoreEos": true}),
    )
    .unwrap();
    let events = h.wait_end();
    assert_eq!(events.last().unwrap()["type"], "done", "{events:?}");
    assert!(
        events[0]["reusedTokens"].as_u64().unwrap() > 0,
        "{:?}",
        events[0]
    );
    assert!(!events.iter().any(|e| e["type"] == "image-progress"));

    // Every window heard the model's status.
    let statuses = h.statuses.lock().unwrap();
    assert!(statuses.iter().any(|s| s["state"] == "loading"));
    assert!(statuses.iter().any(|s| s["state"] == "generating"));
    assert_eq!(statuses.last().unwrap()["state"], "ready");
}

#[test]
fn cancel_stops_a_generation_mid_stream() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    h.load_tiny();
    let conv = h.new_conversation();
    let ticket = h
        .send(
            &conv,
            "Count forever",
            &[],
            json!({"maxNewTokens": 4000, "ignoreEos": true}),
        )
        .unwrap();
    let id = ticket["generationId"].clone();
    h.wait_for(|e| e["type"] == "token");
    assert_eq!(
        h.invoke("cancel_generation", json!({"generationId": id}))
            .unwrap(),
        true
    );
    let events = h.wait_end();
    let done = events.last().unwrap();
    assert_eq!(done["type"], "done", "{events:?}");
    assert_eq!(done["stopReason"], "cancelled");
    assert!(done["generatedTokens"].as_u64().unwrap() < 4000);
    let c = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    assert_eq!(c["messages"][1]["status"], "cancelled");
    assert_eq!(
        c["messages"][1]["text"].as_str().unwrap(),
        answer_text(&events)
    );
    // Cancelling what is over is a no-op, and the model is free again. (The worker settles the
    // generation just after sending `done`: wait for it.)
    let start = std::time::Instant::now();
    while h.invoke("model_status", json!({})).unwrap()["state"] != "ready" {
        assert!(start.elapsed() < WAIT, "the model stayed busy");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(
        h.invoke("cancel_generation", json!({"generationId": id}))
            .unwrap(),
        false
    );
    assert_eq!(
        h.invoke("model_status", json!({})).unwrap()["state"],
        "ready"
    );
}

#[test]
fn a_second_generation_is_refused_while_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    h.load_tiny();
    let conv = h.new_conversation();
    let other = h.new_conversation();
    let ticket = h
        .send(
            &conv,
            "Count forever",
            &[],
            json!({"maxNewTokens": 4000, "ignoreEos": true}),
        )
        .unwrap();
    let err = h.send(&other, "Me too", &[], json!({})).unwrap_err();
    assert_eq!(err["code"], "busy", "{err}");
    // The refused question left no trace.
    let c = h.invoke("get_conversation", json!({"id": other})).unwrap();
    assert_eq!(c["messages"].as_array().unwrap().len(), 0);
    h.invoke(
        "cancel_generation",
        json!({"generationId": ticket["generationId"]}),
    )
    .unwrap();
    h.wait_end();
    // Once the first is over the second goes through.
    h.events.lock().unwrap().clear();
    h.send(&other, "Me too", &[], json!({"maxNewTokens": 2}))
        .unwrap();
    assert_eq!(h.wait_end().last().unwrap()["type"], "done");
}
