//! The local API started from the settings, and answers from a connection (another server)
//! instead of this computer's model.

use std::net::TcpListener;
use std::sync::Arc;

use serde_json::{Value, json};
use smolvlm_server::{ServerConfig, StaticCatalog};
use smolvlm_worker::{Worker, WorkerConfig};

use super::harness::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn post(url: &str, body: Value, key: Option<&str>) -> Result<Value, (u16, Value)> {
    let mut req = ureq::post(url);
    if let Some(k) = key {
        req = req.set("Authorization", &format!("Bearer {k}"));
    }
    match req.send_json(body) {
        Ok(r) => Ok(r.into_json().unwrap()),
        Err(ureq::Error::Status(code, r)) => Err((code, r.into_json().unwrap())),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn the_local_api_follows_the_settings_and_shares_the_chats_model() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let status = h.invoke("local_api_status", json!({})).unwrap();
    assert_eq!(
        status,
        json!({"running": false, "url": null, "error": null})
    );
    h.load_tiny();
    let port = free_port();
    h.invoke(
        "save_settings",
        json!({"settings": {"localApi": {"enabled": true, "port": port, "apiKey": "k3y"}}}),
    )
    .unwrap();
    let status = h.invoke("local_api_status", json!({})).unwrap();
    let url = format!("http://127.0.0.1:{port}/v1");
    assert_eq!(status["running"], true, "{status}");
    assert_eq!(status["url"], url.as_str());

    // The chat's model answers, and the key is asked for.
    let body = json!({
        "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4, "temperature": 0
    });
    let (code, err) = post(&format!("{url}/chat/completions"), body.clone(), None).unwrap_err();
    assert_eq!(code, 401, "{err}");
    let answer = post(&format!("{url}/chat/completions"), body, Some("k3y")).unwrap();
    assert_eq!(answer["object"], "chat.completion");
    let n = answer["usage"]["completion_tokens"].as_u64().unwrap();
    assert!((1..=4).contains(&n), "{answer}");
    let chat = h.new_conversation();
    h.send(&chat, "Hello", &[], json!({"maxNewTokens": 4}))
        .unwrap();
    let end = h.wait_end();
    assert_eq!(end.last().unwrap()["type"], "done");
    // Same model, same greedy answer: the API and the chat share one worker.
    assert_eq!(
        answer_text(&end),
        answer["choices"][0]["message"]["content"].as_str().unwrap()
    );

    // Other settings do not restart it; turning it off stops it.
    h.invoke("save_settings", json!({"settings": {"theme": "dark"}}))
        .unwrap();
    assert_eq!(h.invoke("local_api_status", json!({})).unwrap(), status);
    h.invoke(
        "save_settings",
        json!({"settings": {"localApi": {"enabled": false, "port": port}}}),
    )
    .unwrap();
    assert_eq!(
        h.invoke("local_api_status", json!({})).unwrap()["running"],
        false
    );
    assert!(ureq::get(&format!("{url}/models")).call().is_err());
}

#[test]
fn a_taken_port_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    h.invoke(
        "save_settings",
        json!({"settings": {"localApi": {"enabled": true, "port": port}}}),
    )
    .unwrap();
    let status = h.invoke("local_api_status", json!({})).unwrap();
    assert_eq!(status["running"], false);
    assert_eq!(status["error"]["code"], "addr_in_use", "{status}");
    drop(taken);
}

/// A second server (as vLLM or another machine's `smolvlm serve` would be) with the tiny model.
fn second_server() -> smolvlm_server::ServerHandle {
    let worker = Worker::spawn(WorkerConfig::default(), Arc::new(|_: &_| {}));
    worker
        .load(std::path::Path::new(&tiny_model()), Default::default())
        .unwrap()
        .recv_timeout(WAIT)
        .unwrap()
        .unwrap();
    let config = ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    };
    smolvlm_server::start(config, worker, Arc::new(StaticCatalog::default())).unwrap()
}

#[test]
fn a_connection_answers_the_chat_with_no_local_model() {
    let server = second_server();
    let url = format!("http://{}/v1", server.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let image = fixture_image("img_wide_300x200.png");
    h.invoke(
        "save_settings",
        json!({"settings": {
            "connections": [{"id": "second", "name": "Second", "baseUrl": url}],
            "backend": "second"
        }}),
    )
    .unwrap();
    let remote_chat = h.new_conversation();
    h.send(
        &remote_chat,
        "What is this?",
        std::slice::from_ref(&image),
        json!({"maxNewTokens": 6}),
    )
    .unwrap();
    let remote = h.wait_end();
    assert_eq!(remote.last().unwrap()["type"], "done", "{remote:?}");
    assert!(remote.last().unwrap()["generatedTokens"].as_u64().unwrap() >= 1);
    let saved = h
        .invoke("get_conversation", json!({"id": remote_chat}))
        .unwrap();
    let answer = &saved["messages"][1];
    assert_eq!(answer["answeredBy"], "Second", "{answer}");
    assert_eq!(answer["status"], "complete");

    // The same question to this computer's model gives the same greedy answer: the image went
    // over intact.
    let local_dir = tempfile::tempdir().unwrap();
    let local = Harness::new(local_dir.path());
    local.load_tiny();
    let chat = local.new_conversation();
    local
        .send(&chat, "What is this?", &[image], json!({"maxNewTokens": 6}))
        .unwrap();
    let events = local.wait_end();
    assert_eq!(answer["text"].as_str().unwrap(), answer_text(&events));
    // Both keep where the time went; only the local one knows its vision and prefill.
    assert!(
        answer["timings"]["totalS"].as_f64().unwrap() > 0.0,
        "{answer}"
    );
    let local_saved = local
        .invoke("get_conversation", json!({"id": chat}))
        .unwrap();
    let t = &local_saved["messages"][1]["timings"];
    assert_eq!(*t, events.last().unwrap()["timings"], "{local_saved}");
    assert!(t["visionS"].as_f64().unwrap() > 0.0 && t["prefillS"].as_f64().unwrap() > 0.0);
    assert_eq!(answer_text(&remote), answer_text(&events));
}

#[test]
fn an_unreachable_connection_is_a_clear_error_and_keeps_the_question() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let url = format!("http://127.0.0.1:{}/v1", free_port());
    h.invoke(
        "save_settings",
        json!({"settings": {
            "connections": [{"id": "gone", "name": "Gone", "baseUrl": url}],
            "backend": "gone"
        }}),
    )
    .unwrap();
    let chat = h.new_conversation();
    h.send(&chat, "Anyone there?", &[], json!({})).unwrap();
    let events = h.wait_end();
    let last = events.last().unwrap();
    assert_eq!(last["type"], "error");
    assert_eq!(last["code"], "remote_connect", "{last}");
    assert!(last["message"].as_str().unwrap().contains("Gone"), "{last}");
    let saved = h.invoke("get_conversation", json!({"id": chat})).unwrap();
    assert_eq!(saved["messages"][0]["text"], "Anyone there?");
    assert_eq!(saved["messages"][1]["status"], "error");
    // The slot is free again: the next question is not refused as busy.
    h.events.lock().unwrap().clear();
    h.send(&chat, "Again?", &[], json!({})).unwrap();
    assert_eq!(h.wait_end().last().unwrap()["type"], "error");
}
