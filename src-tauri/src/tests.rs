//! The backend's tests: commands and worker through `tauri::test::mock_builder()` with the tiny
//! fixture model, the stream's JSON, storage round trips and a crash mid-write.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use smolvlm::{GenerationEvent, GenerationSummary, Role, StopReason, Timings};
use tauri::Listener;
use tauri::ipc::{CallbackFn, InvokeBody, InvokeResponseBody};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

use crate::commands::{AppState, COMMANDS};
use crate::error::{AppError, ErrorPayload};
use crate::events::{Coalescer, DoneTimings, StreamEvent};
use crate::store::{MessageStatus, Store, StoredMessage, crash_during_write, now_ms};
use crate::{AppOptions, MODEL_STATUS_EVENT, configure};

/// Tests of the commands added for the full app: images, models, downloads, settings.
mod full_app;

const CHANNEL_ID: u32 = 4242;
const WAIT: Duration = Duration::from_secs(120);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tiny_model() -> String {
    repo()
        .join("tests/fixtures/tiny-smolvlm")
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

fn fixture_image(name: &str) -> String {
    repo()
        .join("tests/fixtures/tiny-smolvlm")
        .join(name)
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

/// The app on the mock runtime, with a data dir of its own and every channel message captured.
pub(crate) struct Harness {
    app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
    events: Arc<Mutex<Vec<Value>>>,
    statuses: Arc<Mutex<Vec<Value>>>,
    dir: PathBuf,
}

/// A hub nobody can reach, offline, with its cache in `dir`: tests that do not download never
/// touch the network nor the user's cache.
fn hermetic_hub(dir: &Path) -> smolvlm_hub::HubConfig {
    let mut cfg = smolvlm_hub::HubConfig::new(smolvlm_hub::HubCache::new(dir.join("hf-cache")));
    cfg.endpoint = "http://127.0.0.1:9".into();
    cfg.offline = true;
    cfg.use_env_proxy = false;
    cfg
}

impl Harness {
    fn new(dir: &Path) -> Self {
        Self::with_hub(dir, hermetic_hub(dir))
    }

    fn with_hub(dir: &Path, hub: smolvlm_hub::HubConfig) -> Self {
        let events = Arc::new(Mutex::new(Vec::new()));
        let captured = events.clone();
        let builder =
            mock_builder().channel_interceptor(move |_webview, callback, _index, body| {
                if callback.0 != CHANNEL_ID {
                    return false;
                }
                let value = match body {
                    InvokeResponseBody::Json(s) => serde_json::from_str(s).unwrap(),
                    InvokeResponseBody::Raw(_) => panic!("a raw channel message"),
                };
                captured.lock().unwrap().push(value);
                true
            });
        let mut app = configure(
            builder,
            AppOptions {
                data_dir: Some(dir.to_path_buf()),
                hub: Some(hub),
            },
        )
        .build(mock_context(noop_assets()))
        .unwrap();
        // Runs the app's setup (state, image store, worker) as `run` would; the mock runtime's
        // event loop iteration itself does nothing. (Deprecated for busy-looping when called in a
        // loop; called once here, it is the one way to run the real setup hook on a built app.)
        #[allow(deprecated)]
        app.run_iteration(|_, _| {});
        let statuses = Arc::new(Mutex::new(Vec::new()));
        let seen = statuses.clone();
        app.listen_any(MODEL_STATUS_EVENT, move |e| {
            seen.lock()
                .unwrap()
                .push(serde_json::from_str(e.payload()).unwrap());
        });
        let webview = WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        Self {
            app,
            webview,
            events,
            statuses,
            dir: dir.to_path_buf(),
        }
    }

    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        get_ipc_response(
            &self.webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<Value>().unwrap())
    }

    fn error_code(&self, cmd: &str, args: Value) -> String {
        let err = self.invoke(cmd, args).expect_err("the command should fail");
        assert!(err["message"].is_string(), "{err}");
        err["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{err}"))
            .to_string()
    }

    fn load_tiny(&self) {
        let info = self
            .invoke("load_model", json!({"path": tiny_model()}))
            .unwrap();
        assert_eq!(info["device"], "cpu");
        let kernels = info["kernels"].as_str().unwrap_or_else(|| panic!("{info}"));
        assert!(
            ["amx", "avx512", "avx2", "neon", "scalar"].contains(&kernels),
            "{info}"
        );
    }

    fn new_conversation(&self) -> String {
        let c = self.invoke("create_conversation", json!({})).unwrap();
        c["id"].as_str().unwrap().to_string()
    }

    fn send(
        &self,
        conversation: &str,
        text: &str,
        images: &[String],
        settings: Value,
    ) -> Result<Value, Value> {
        self.invoke(
            "send_message",
            json!({
                "conversationId": conversation,
                "text": text,
                "images": images,
                "settings": settings,
                "onEvent": format!("__CHANNEL__:{CHANNEL_ID}"),
            }),
        )
    }

    /// Waits for an event satisfying `pred`; returns the events so far.
    fn wait_for(&self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let start = Instant::now();
        loop {
            {
                let events = self.events.lock().unwrap();
                if events.iter().any(&pred) {
                    return events.clone();
                }
            }
            assert!(
                start.elapsed() < WAIT,
                "timed out; events: {:?}",
                self.events.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn wait_end(&self) -> Vec<Value> {
        self.wait_for(|e| e["type"] == "done" || e["type"] == "error")
    }

    fn state(&self) -> &AppState {
        self.app.state::<AppState>().inner()
    }
}

fn answer_text(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "token")
        .map(|e| e["text"].as_str().unwrap())
        .collect()
}

#[test]
fn stream_event_json_is_pinned() {
    let events = [
        StreamEvent::Started {
            generation_id: 7,
            prompt_tokens: 120,
            image_tokens: 64,
            frames: 1,
            reused_tokens: 0,
        },
        StreamEvent::ImageProgress {
            frames_done: 1,
            frames_total: 5,
        },
        StreamEvent::Token {
            text: "Hi <b>".into(),
            count: 2,
        },
        StreamEvent::Done {
            stop_reason: StopReason::Cancelled,
            generated_tokens: 2,
            prompt_tokens: 120,
            image_tokens: 64,
            timings: DoneTimings {
                vision_s: 0.5,
                prefill_s: 0.25,
                decode_s: 1.0,
                decode_tokens_per_s: 2.0,
                first_token_s: Some(0.75),
                total_s: 1.75,
            },
        },
        StreamEvent::Error(ErrorPayload {
            code: "busy".into(),
            message: "m".into(),
        }),
    ];
    let json: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    assert_eq!(
        json,
        [
            r#"{"type":"started","generationId":7,"promptTokens":120,"imageTokens":64,"frames":1,"reusedTokens":0}"#,
            r#"{"type":"image-progress","framesDone":1,"framesTotal":5}"#,
            r#"{"type":"token","text":"Hi <b>","count":2}"#,
            r#"{"type":"done","stopReason":"cancelled","generatedTokens":2,"promptTokens":120,"imageTokens":64,"timings":{"visionS":0.5,"prefillS":0.25,"decodeS":1.0,"decodeTokensPerS":2.0,"firstTokenS":0.75,"totalS":1.75}}"#,
            r#"{"type":"error","code":"busy","message":"m"}"#,
        ]
    );
}

#[test]
fn errors_serialize_as_code_and_message() {
    let e = AppError::Busy(3);
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"code": "busy", "message": e.to_string()})
    );
    let e = AppError::from(smolvlm::Error::NoVision);
    assert_eq!(
        serde_json::to_value(&e).unwrap()["code"],
        "no_vision_encoder"
    );
}

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
fn command_list_is_pinned_in_the_ui_wrapper() {
    let api = std::fs::read_to_string(repo().join("ui/src/api.ts")).unwrap();
    let start = api
        .find("export const COMMANDS = [")
        .expect("COMMANDS in api.ts");
    let end = start + api[start..].find("] as const").unwrap();
    let listed: Vec<&str> = api[start..end].split('"').skip(1).step_by(2).collect();
    assert_eq!(listed, COMMANDS);

    // And every listed command is registered (an unknown one answers a plain string).
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    for cmd in COMMANDS {
        if let Err(e) = h.invoke(cmd, json!({})) {
            assert!(
                !e.to_string().contains("not found") || e["code"].is_string(),
                "{cmd}: {e}"
            );
        }
    }
    let unknown = h.invoke("no_such_command", json!({})).unwrap_err();
    assert!(unknown.to_string().contains("not found"), "{unknown}");
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
    // Cancelling what is over is a no-op, and the model is free again.
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

#[test]
fn load_errors_come_back_to_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let not_a_model = tempfile::tempdir().unwrap();
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

#[test]
fn commands_validate_their_input() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let conv = h.new_conversation();
    assert_eq!(
        h.send(&conv, "Hi", &[], json!({})).unwrap_err()["code"],
        "no_model_loaded"
    );
    h.load_tiny();
    let text_file = dir.path().join("notes.png");
    std::fs::write(&text_file, "not an image").unwrap();
    let img = fixture_image("img_tall_96x300.png");
    let cases: Vec<(String, Vec<String>, Value, &str)> = vec![
        (
            "../../etc/passwd".into(),
            vec![],
            json!({}),
            "invalid_input",
        ),
        (
            conv.clone(),
            vec!["/no/such.png".into()],
            json!({}),
            "not_found",
        ),
        (
            conv.clone(),
            vec![text_file.display().to_string()],
            json!({}),
            "not_an_image",
        ),
        (
            conv.clone(),
            vec![dir.path().display().to_string()],
            json!({}),
            "not_an_image",
        ),
        (
            conv.clone(),
            vec!["relative.png".into()],
            json!({}),
            "invalid_input",
        ),
        (
            conv.clone(),
            vec![img.clone(); 9],
            json!({}),
            "invalid_input",
        ),
        (
            conv.clone(),
            vec![],
            json!({"temperature": 5.0}),
            "invalid_input",
        ),
        (
            conv.clone(),
            vec![],
            json!({"maxNewTokens": 0}),
            "invalid_input",
        ),
        (conv.clone(), vec![], json!({"topP": 0.0}), "invalid_input"),
        ("c-missing".into(), vec![], json!({}), "not_found"),
    ];
    for (id, images, settings, code) in cases {
        let err = h.send(&id, "Hi", &images, settings.clone()).unwrap_err();
        assert_eq!(err["code"], code, "{id} {images:?} {settings}: {err}");
    }
    assert_eq!(
        h.send(&conv, "  ", &[], json!({})).unwrap_err()["code"],
        "invalid_input"
    );
    let long = "x".repeat(crate::validate::MAX_TEXT_CHARS + 1);
    assert_eq!(
        h.send(&conv, &long, &[], json!({})).unwrap_err()["code"],
        "invalid_input"
    );
    assert_eq!(
        h.error_code("get_conversation", json!({"id": "../x"})),
        "invalid_input"
    );
    assert_eq!(
        h.error_code("delete_conversation", json!({"id": "c-none"})),
        "not_found"
    );
    // Nothing was added by the refused messages.
    let c = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    assert_eq!(c["messages"].as_array().unwrap().len(), 0);
}

#[test]
fn conversations_and_images_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let image = fixture_image("img_long_500x120.png");
    let conv;
    {
        let h = Harness::new(dir.path());
        h.load_tiny();
        conv = h.new_conversation();
        // The same image twice is stored once, under its sha256.
        h.send(
            &conv,
            "Two views",
            &[image.clone(), image.clone()],
            json!({"maxNewTokens": 3}),
        )
        .unwrap();
        assert_eq!(h.wait_end().last().unwrap()["type"], "done");
        assert_eq!(h.dir, dir.path());
    }
    let bytes = std::fs::read(&image).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let stored = dir.path().join("images").join(format!("{sha}.png"));
    assert_eq!(std::fs::read(&stored).unwrap(), bytes);
    assert_eq!(
        std::fs::read_dir(dir.path().join("images"))
            .unwrap()
            .count(),
        1
    );

    let h = Harness::new(dir.path());
    let list = h.invoke("list_conversations", json!({})).unwrap();
    assert_eq!(list[0]["id"], conv.as_str());
    assert_eq!(list[0]["messages"], 2);
    let c = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    assert_eq!(c["schemaVersion"], crate::store::SCHEMA_VERSION);
    // The UI gets the absolute path in the store (docs/app.md); the file on disk keeps it relative.
    assert_eq!(
        Path::new(c["messages"][0]["images"][0]["file"].as_str().unwrap()),
        stored
    );
    let on_disk = std::fs::read_to_string(
        dir.path()
            .join("conversations")
            .join(format!("{}.json", conv.as_str())),
    )
    .unwrap();
    assert!(
        on_disk.contains(&format!("\"file\": \"{sha}.png\""))
            || on_disk.contains(&format!("\"file\":\"{sha}.png\"")),
        "{on_disk}"
    );
    assert_eq!(c["messages"][0]["images"][1]["sha256"], sha.as_str());
    assert_eq!(
        c["messages"][0]["images"][0]["originalName"],
        "img_long_500x120.png"
    );
    assert_eq!(c["messages"][1]["status"], "complete");
    let info = h.invoke("app_info", json!({})).unwrap();
    assert_eq!(
        Path::new(info["imagesDir"].as_str().unwrap()),
        dir.path().join("images")
    );
    h.invoke("delete_conversation", json!({"id": conv}))
        .unwrap();
    assert_eq!(
        h.invoke("list_conversations", json!({})).unwrap(),
        json!([])
    );
}

#[test]
fn a_crash_mid_write_keeps_the_last_save_and_marks_the_answer_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let conv;
    {
        let store = Store::open(dir.path()).unwrap();
        conv = store.create("Crash").unwrap().id;
        let msg = |id: &str, role, text: &str, status| StoredMessage {
            id: id.into(),
            role,
            text: text.into(),
            images: vec![],
            status,
            created_ms: now_ms(),
            error: None,
            generated_tokens: None,
        };
        // An answer streaming, saved up to "The cat".
        let (saved, ()) = store
            .update(&conv, |c| {
                c.messages.push(msg(
                    "m-q",
                    Role::User,
                    "What is it?",
                    MessageStatus::Complete,
                ));
                c.messages.push(msg(
                    "m-a",
                    Role::Assistant,
                    "The cat",
                    MessageStatus::Streaming,
                ));
            })
            .unwrap();
        // The next save dies half-way (kill -9 during the write).
        let mut next = saved.clone();
        next.messages[1].text = "The cat sat on".into();
        let path = dir
            .path()
            .join("conversations")
            .join(format!("{conv}.json"));
        crash_during_write(&path, &serde_json::to_vec_pretty(&next).unwrap());
        let leftovers = std::fs::read_dir(dir.path().join("conversations"))
            .unwrap()
            .count();
        assert_eq!(leftovers, 2, "the torn temporary file is there");
        // No clean shutdown: the store is simply dropped.
    }
    let store = Store::open(dir.path()).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path().join("conversations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        [format!("{conv}.json")],
        "temporary files are cleaned up"
    );
    let c = store.get(&conv).unwrap();
    assert_eq!(c.messages[1].text, "The cat");
    assert_eq!(c.messages[1].status, MessageStatus::Interrupted);
    // The interrupted answer stays part of the history the model sees.
    let msgs = store.engine_messages(&c);
    assert_eq!(msgs.len(), 2);

    // Through the app too: a restarted app shows it interrupted.
    let h = Harness::new(dir.path());
    let c = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    assert_eq!(c["messages"][1]["status"], "interrupted");
    assert_eq!(c["messages"][1]["text"], "The cat");
}

#[test]
fn an_unreadable_or_newer_conversation_file_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let conv = store.create("x").unwrap().id;
    let path = dir
        .path()
        .join("conversations")
        .join(format!("{conv}.json"));
    std::fs::write(&path, "{ not json").unwrap();
    assert_eq!(store.get(&conv).unwrap_err().code(), "corrupt_data");
    let mut c: Value = serde_json::to_value(store.create("y").unwrap()).unwrap();
    c["schemaVersion"] = json!(99);
    let id = c["id"].as_str().unwrap().to_string();
    std::fs::write(
        dir.path().join("conversations").join(format!("{id}.json")),
        c.to_string(),
    )
    .unwrap();
    assert_eq!(store.get(&id).unwrap_err().code(), "corrupt_data");
    // Listing skips both rather than failing.
    assert!(store.list().unwrap().is_empty());
}
