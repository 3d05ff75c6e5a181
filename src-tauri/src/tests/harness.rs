//! The test harness: the app on `tauri::test::mock_builder()` with a data dir of its own, a
//! hermetic hub, and helpers to invoke commands and wait for what they stream.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use smolvlm::Role;
use tauri::Listener;
use tauri::http::{HeaderMap, HeaderValue};
use tauri::ipc::{CallbackFn, InvokeBody, InvokeResponseBody};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

use crate::state::AppState;
use crate::store::{MessageStatus, StoredMessage, now_ms};
use crate::{AppOptions, MODEL_STATUS_EVENT, configure};

pub(crate) const CHANNEL_ID: u32 = 4242;
pub(crate) const WAIT: Duration = Duration::from_secs(120);

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The tiny model's folder and every file of the committed fixtures.
fn fixtures() -> Vec<PathBuf> {
    let mut out = vec![tiny_dir()];
    for dir in ["tests/fixtures/tiny-smolvlm", "tests/fixtures/pdf"] {
        let dir = repo().join(dir).canonicalize().unwrap();
        out.extend(std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()));
    }
    out
}

pub(crate) fn tiny_model() -> String {
    repo()
        .join("tests/fixtures/tiny-smolvlm")
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

/// A committed PDF (tests/fixtures/pdf).
pub(crate) fn fixture_pdf(name: &str) -> String {
    repo()
        .join("tests/fixtures/pdf")
        .join(name)
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

pub(crate) fn fixture_image(name: &str) -> String {
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
    pub(crate) app: App<MockRuntime>,
    pub(crate) webview: WebviewWindow<MockRuntime>,
    pub(crate) events: Arc<Mutex<Vec<Value>>>,
    pub(crate) statuses: Arc<Mutex<Vec<Value>>>,
    pub(crate) dir: PathBuf,
}

/// A hub nobody can reach, offline, with its cache in `dir`: tests that do not download never
/// touch the network nor the user's cache.
pub(crate) fn hermetic_hub(dir: &Path) -> smolvlm_hub::HubConfig {
    let mut cfg = smolvlm_hub::HubConfig::new(smolvlm_hub::HubCache::new(dir.join("hf-cache")));
    cfg.endpoint = "http://127.0.0.1:9".into();
    cfg.offline = true;
    cfg.use_env_proxy = false;
    cfg
}

impl Harness {
    pub(crate) fn new(dir: &Path) -> Self {
        Self::with_hub(dir, hermetic_hub(dir))
    }

    pub(crate) fn with_hub(dir: &Path, hub: smolvlm_hub::HubConfig) -> Self {
        Self::with_options(
            dir,
            AppOptions {
                data_dir: Some(dir.to_path_buf()),
                hub: Some(hub),
                trust_page_drops: false,
                ..AppOptions::default()
            },
        )
    }

    pub(crate) fn with_options(dir: &Path, options: AppOptions) -> Self {
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
        let mut app = configure(builder, options)
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
        let h = Self {
            app,
            webview,
            events,
            statuses,
            dir: dir.to_path_buf(),
        };
        // The fixtures are files this test user dropped on the window.
        h.drop_paths(fixtures());
        h
    }

    /// What a native drop of `paths` on the window does.
    pub(crate) fn drop_paths<P: Into<PathBuf>>(&self, paths: impl IntoIterator<Item = P>) {
        let paths: Vec<PathBuf> = paths.into_iter().map(Into::into).collect();
        crate::record_drop(self.app.handle(), &paths);
    }

    pub(crate) fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
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

    pub(crate) fn error_code(&self, cmd: &str, args: Value) -> String {
        let err = self.invoke(cmd, args).expect_err("the command should fail");
        assert!(err["message"].is_string(), "{err}");
        err["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{err}"))
            .to_string()
    }

    pub(crate) fn load_tiny(&self) {
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

    pub(crate) fn new_conversation(&self) -> String {
        let c = self.invoke("create_conversation", json!({})).unwrap();
        c["id"].as_str().unwrap().to_string()
    }

    pub(crate) fn send(
        &self,
        conversation: &str,
        text: &str,
        images: &[String],
        settings: Value,
    ) -> Result<Value, Value> {
        self.send_images(conversation, text, json!(images), settings)
    }

    /// [`Self::send`] with `images` as the command takes them (paths, or `{file, originalName,
    /// page}` objects).
    pub(crate) fn send_images(
        &self,
        conversation: &str,
        text: &str,
        images: Value,
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
    pub(crate) fn wait_for(&self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
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

    pub(crate) fn wait_end(&self) -> Vec<Value> {
        self.wait_for(|e| e["type"] == "done" || e["type"] == "error")
    }

    pub(crate) fn state(&self) -> &AppState {
        self.app.state::<AppState>().inner()
    }
}

/// A dropped harness is the app's process ending: the next one in the same folder owns it.
impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(state) = self.app.try_state::<AppState>() {
            state.store.unlock();
        }
    }
}

pub(crate) fn answer_text(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "token")
        .map(|e| e["text"].as_str().unwrap())
        .collect()
}

pub(crate) fn tiny_dir() -> PathBuf {
    PathBuf::from(tiny_model())
}

/// Invokes `cmd` with a raw body and headers, as `invoke(cmd, bytes, {headers})` does.
pub(crate) fn invoke_raw(
    h: &Harness,
    cmd: &str,
    body: Vec<u8>,
    name: Option<&str>,
) -> Result<Value, Value> {
    let mut headers = HeaderMap::new();
    if let Some(name) = name {
        headers.insert("x-name", HeaderValue::from_str(name).unwrap());
    }
    get_ipc_response(
        &h.webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Raw(body),
            headers,
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

/// An image file of one colour, encoded as `format`: what a paste or a drop brings.
pub(crate) fn solid_image(
    width: u32,
    height: u32,
    rgb: [u8; 3],
    format: image::ImageFormat,
) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(width, height, image::Rgb(rgb))
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

pub(crate) fn sha256_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A complete stored message.
pub(crate) fn message(id: &str, role: Role, text: &str) -> StoredMessage {
    StoredMessage {
        id: id.into(),
        role,
        text: text.into(),
        images: vec![],
        status: MessageStatus::Complete,
        created_ms: now_ms(),
        error: None,
        generated_tokens: None,
        answered_by: None,
        timings: None,
    }
}
