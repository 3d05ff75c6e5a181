//! The model worker: load errors, panics and restarts, the compute threads.

use serde_json::json;

use super::harness::*;

#[test]
fn load_errors_come_back_to_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let not_a_model = tempfile::tempdir().unwrap();
    // Handed over as a drop would (any other path is `path_not_allowed`, tests::access).
    h.drop_paths([not_a_model.path(), std::path::Path::new("/no/such/model")]);
    let code = h.error_code("load_model", json!({"path": not_a_model.path()}));
    assert_eq!(code, "missing_model_file");
    let status = h.invoke("model_status", json!({})).unwrap();
    assert_eq!(status["state"], "empty");
    assert_eq!(status["lastError"]["code"], "missing_model_file");
    assert_eq!(
        h.error_code("load_model", json!({"path": "/no/such/model"})),
        "not_found"
    );
    assert_eq!(
        h.error_code("load_model", json!({"path": "relative/model"})),
        "invalid_input"
    );
    // The worker is alive: a good model loads next.
    h.load_tiny();
    assert_eq!(
        h.invoke("model_status", json!({})).unwrap()["state"],
        "ready"
    );
}

#[test]
fn a_worker_panic_is_reported_and_the_worker_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    h.load_tiny();
    let reply = h.state().worker.request_panic().unwrap();
    let err = reply.recv_timeout(WAIT).unwrap().unwrap_err();
    assert_eq!(err.code(), "worker_panicked");
    assert!(
        err.to_string().contains("panic requested by a test"),
        "{err}"
    );
    let status = h.invoke("model_status", json!({})).unwrap();
    assert_eq!(status["state"], "empty");
    assert_eq!(status["restarts"], 1);
    assert_eq!(status["lastError"]["code"], "worker_panicked");
    assert_eq!(h.statuses.lock().unwrap().last().unwrap()["restarts"], 1);
    // The model went with the old worker; the new one loads and answers.
    let conv = h.new_conversation();
    assert_eq!(
        h.send(&conv, "Hello", &[], json!({})).unwrap_err()["code"],
        "no_model_loaded"
    );
    h.load_tiny();
    h.send(&conv, "Hello", &[], json!({"maxNewTokens": 3}))
        .unwrap();
    assert_eq!(h.wait_end().last().unwrap()["type"], "done");
}

/// The `threads` setting reaches the engine: the loaded model reports the threads it uses.
#[test]
fn the_threads_setting_is_the_models_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    h.invoke("save_settings", json!({"settings": {"threads": 2}}))
        .unwrap();
    let info = h
        .invoke("load_model", json!({"path": tiny_model()}))
        .unwrap();
    assert_eq!(info["threads"], 2, "{info}");
    let status = h.invoke("model_status", json!({})).unwrap();
    assert_eq!(status["model"]["threads"], 2, "{status}");

    h.invoke("save_settings", json!({"settings": {"threads": 0}}))
        .unwrap();
    let info = h
        .invoke("load_model", json!({"path": tiny_model()}))
        .unwrap();
    assert!(info["threads"].as_u64().is_some_and(|n| n >= 1), "{info}");
}
