//! The commands added for the full app, through the mock runtime: image import (paths and raw
//! bytes), image costs against the processor's own output, conversation rename and truncate,
//! settings, the catalog, downloads from the in-test hub (progress, cancel with a kept partial,
//! resume, delete) and local models.

use std::time::Duration;

use smolvlm_hub::HubConfig;
use smolvlm_hub::test_server::{Fault, TestHub};
use tauri::http::{HeaderMap, HeaderValue};

use super::*;

const DOWNLOAD_WAIT: Duration = Duration::from_secs(120);

fn tiny_dir() -> PathBuf {
    PathBuf::from(tiny_model())
}

/// Invokes `cmd` with a raw body and headers, as `invoke(cmd, bytes, {headers})` does.
fn invoke_raw(h: &Harness, cmd: &str, body: Vec<u8>, name: Option<&str>) -> Result<Value, Value> {
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

fn sha256_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn images_are_imported_from_paths_and_pasted_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let src = fixture_image("img_wide_300x200.png");
    let bytes = std::fs::read(&src).unwrap();
    let sha = sha256_of(&bytes);

    let img = h.invoke("import_image", json!({"path": src})).unwrap();
    assert_eq!(img["sha256"], sha.as_str());
    assert_eq!(img["width"], 300);
    assert_eq!(img["height"], 200);
    assert_eq!(img["originalName"], "img_wide_300x200.png");
    let file = PathBuf::from(img["file"].as_str().unwrap());
    assert!(file.is_absolute(), "{file:?}");
    assert_eq!(file, dir.path().join("images").join(format!("{sha}.png")));
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    // The stored copy is itself a valid message image.
    let conv = h.new_conversation();
    h.load_tiny();
    h.send(
        &conv,
        "Hi",
        &[file.display().to_string()],
        json!({"maxNewTokens": 1}),
    )
    .unwrap();
    assert_eq!(h.wait_end().last().unwrap()["type"], "done");

    // A paste: the same bytes, named by a percent-encoded header; stored once.
    let pasted = invoke_raw(
        &h,
        "import_image_bytes",
        bytes.clone(),
        Some("caf%C3%A9%20screenshot.png"),
    )
    .unwrap();
    assert_eq!(pasted["sha256"], sha.as_str());
    assert_eq!(pasted["file"], img["file"]);
    assert_eq!(pasted["originalName"], "café screenshot.png");
    assert_eq!(
        std::fs::read_dir(dir.path().join("images"))
            .unwrap()
            .count(),
        1
    );
    // Without a name it still has one.
    let jpeg = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(40, 30, image::Rgb([200, 10, 10]))
            .write_to(&mut out, image::ImageFormat::Jpeg)
            .unwrap();
        out.into_inner()
    };
    let anon = invoke_raw(&h, "import_image_bytes", jpeg, None).unwrap();
    assert_eq!(anon["originalName"], "pasted image");
    assert!(anon["file"].as_str().unwrap().ends_with(".jpg"));
    assert_eq!(
        (anon["width"].as_u64(), anon["height"].as_u64()),
        (Some(40), Some(30))
    );

    // Corrupt data is a typed error: a PNG cut after its header, noise, nothing at all.
    let code = |r: Result<Value, Value>| r.unwrap_err()["code"].as_str().unwrap().to_string();
    let cut = bytes[..bytes.len() / 3].to_vec();
    assert_eq!(
        code(invoke_raw(
            &h,
            "import_image_bytes",
            cut.clone(),
            Some("cut.png")
        )),
        "not_an_image"
    );
    assert_eq!(
        code(invoke_raw(
            &h,
            "import_image_bytes",
            b"hello, not an image".to_vec(),
            Some("x.png")
        )),
        "not_an_image"
    );
    assert_eq!(
        code(invoke_raw(&h, "import_image_bytes", Vec::new(), None)),
        "not_an_image"
    );
    // JSON instead of raw bytes.
    assert_eq!(
        h.error_code("import_image_bytes", json!({"bytes": [1, 2]})),
        "invalid_input"
    );
    // Files: a cut PNG on disk, a text file named .png, a folder, missing, relative.
    let cut_file = dir.path().join("cut.png");
    std::fs::write(&cut_file, &cut).unwrap();
    let text_file = dir.path().join("notes.png");
    std::fs::write(&text_file, "not an image").unwrap();
    for (path, expected) in [
        (cut_file.display().to_string(), "not_an_image"),
        (text_file.display().to_string(), "not_an_image"),
        (dir.path().display().to_string(), "not_an_image"),
        ("/no/such/image.png".to_string(), "not_found"),
        ("relative.png".to_string(), "invalid_input"),
    ] {
        assert_eq!(
            h.error_code("import_image", json!({"path": path})),
            expected,
            "{path}"
        );
    }
    // Nothing of the refused ones was stored.
    assert_eq!(
        std::fs::read_dir(dir.path().join("images"))
            .unwrap()
            .count(),
        2
    );
}

#[test]
fn image_cost_matches_the_processor_and_the_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let wide = fixture_image("img_wide_300x200.png");
    assert_eq!(
        h.error_code("image_cost", json!({"path": wide})),
        "no_model_loaded"
    );
    h.load_tiny();

    let cfg = smolvlm_image::ProcessorConfig::from_dir(&tiny_dir()).unwrap();
    let processor = smolvlm_image::ImageProcessor::new(cfg.clone());
    let limits = smolvlm_image::ImageLimits::default();
    for name in [
        "img_wide_300x200.png",
        "img_tall_96x300.png",
        "img_long_500x120.png",
    ] {
        let path = fixture_image(name);
        let rgb = smolvlm_image::load_image_file(Path::new(&path), &limits).unwrap();
        for edge in [None, Some(128), Some(256), Some(384), Some(1024)] {
            let p = match edge {
                Some(px) => processor.with_longest_edge(px).unwrap(),
                None => processor.clone(),
            };
            let processed = p.process(&rgb).unwrap();
            let cost = h
                .invoke("image_cost", json!({"path": path, "longestEdge": edge}))
                .unwrap();
            let plan = processed.plan;
            assert_eq!(cost["width"], rgb.width(), "{name} {edge:?}");
            assert_eq!(cost["height"], rgb.height());
            assert_eq!(
                cost["resizedWidth"], plan.resized.0,
                "{name} {edge:?}: {cost}"
            );
            assert_eq!(cost["resizedHeight"], plan.resized.1);
            assert_eq!(cost["rows"], plan.rows);
            assert_eq!(cost["cols"], plan.cols);
            assert_eq!(
                cost["frames"],
                processed.frames.len(),
                "{name} {edge:?}: {cost}"
            );
            assert_eq!(cost["tokens"], processed.frames.len() * cfg.image_seq_len);
            assert_eq!(cost["tileSize"], 128);
            assert_eq!(cost["defaultLongestEdge"], 512);
        }
    }
    // The tiny model: tile 128, 4 tokens a frame, 8192 positions. The largest edge keeps a
    // square image's tokens within half the context: 31 × 128 (31² + 1 frames × 4 ≤ 4096).
    let c = h.invoke("image_cost", json!({"path": wide})).unwrap();
    assert_eq!(c["maxLongestEdge"], 31 * 128);
    assert_eq!(
        (c["resizedWidth"].as_u64(), c["resizedHeight"].as_u64()),
        (Some(512), Some(342))
    );
    assert_eq!((c["rows"].as_u64(), c["cols"].as_u64()), (Some(3), Some(4)));
    assert_eq!(c["frames"], 13);
    assert_eq!(c["tokens"], 52);
    // Out of the model's range: clamped (one tile at least, the maximum at most).
    let small = h
        .invoke("image_cost", json!({"path": wide, "longestEdge": 10}))
        .unwrap();
    assert_eq!(small["resizedWidth"], 128);
    assert_eq!(small["frames"], 1);
    let big = h
        .invoke("image_cost", json!({"path": wide, "longestEdge": 8000}))
        .unwrap();
    assert_eq!(big["resizedWidth"], 31 * 128);
    for bad in [0, 8193, 100_000] {
        assert_eq!(
            h.error_code("image_cost", json!({"path": wide, "longestEdge": bad})),
            "invalid_input"
        );
    }
    assert_eq!(
        h.error_code("image_cost", json!({"path": "/no/such.png"})),
        "not_found"
    );
    let text_file = dir.path().join("notes.png");
    std::fs::write(&text_file, "not an image").unwrap();
    assert_eq!(
        h.error_code("image_cost", json!({"path": text_file})),
        "not_an_image"
    );

    // The prompt of a real answer has exactly the tokens image_cost announced.
    let conv = h.new_conversation();
    for edge in [256, 384] {
        h.events.lock().unwrap().clear();
        let c = h
            .invoke("image_cost", json!({"path": wide, "longestEdge": edge}))
            .unwrap();
        let fresh = h.new_conversation();
        h.send(
            &fresh,
            "What is it?",
            std::slice::from_ref(&wide),
            json!({"maxNewTokens": 1, "longestEdge": edge}),
        )
        .unwrap();
        let events = h.wait_end();
        assert_eq!(events[0]["imageTokens"], c["tokens"], "{edge}: {events:?}");
        assert_eq!(events[0]["frames"], c["frames"]);
    }
    // The settings' resolution is the default of both.
    h.invoke(
        "save_settings",
        json!({"settings": {"longestEdgeTiles": 2}}),
    )
    .unwrap();
    let c = h.invoke("image_cost", json!({"path": wide})).unwrap();
    assert_eq!(c["resizedWidth"], 256);
    h.events.lock().unwrap().clear();
    h.send(
        &conv,
        "And now?",
        std::slice::from_ref(&wide),
        json!({"maxNewTokens": 1}),
    )
    .unwrap();
    let events = h.wait_end();
    assert_eq!(events[0]["imageTokens"], c["tokens"], "{events:?}");

    // A text-only model (GGUF without its projector) cannot cost images.
    let lone = tempfile::tempdir().unwrap();
    let gguf = lone.path().join("model-q8_0.gguf");
    std::fs::copy(tiny_dir().join("model-q8_0.gguf"), &gguf).unwrap();
    std::fs::copy(
        tiny_dir().join("tokenizer.json"),
        lone.path().join("tokenizer.json"),
    )
    .unwrap();
    let info = h.invoke("load_model", json!({"path": gguf})).unwrap();
    assert_eq!(info["hasVision"], false);
    assert_eq!(
        h.error_code("image_cost", json!({"path": wide})),
        "no_vision_encoder"
    );
}

fn message(id: &str, role: Role, text: &str) -> StoredMessage {
    StoredMessage {
        id: id.into(),
        role,
        text: text.into(),
        images: vec![],
        status: MessageStatus::Complete,
        created_ms: now_ms(),
        error: None,
        generated_tokens: None,
    }
}

#[test]
fn conversations_are_renamed_and_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let conv;
    {
        let h = Harness::new(dir.path());
        conv = h.new_conversation();
        h.state()
            .store
            .update(&conv, |c| {
                c.messages.push(message("m-1", Role::User, "one"));
                c.messages.push(message("m-2", Role::Assistant, "two"));
                c.messages.push(message("m-3", Role::User, "three"));
                c.messages.push(message("m-4", Role::Assistant, "four"));
            })
            .unwrap();
        let s = h
            .invoke(
                "rename_conversation",
                json!({"id": conv, "title": "  Cats  "}),
            )
            .unwrap();
        assert_eq!(s["id"], conv.as_str());
        assert_eq!(s["title"], "Cats");
        assert_eq!(s["messages"], 4);
        // Regenerate: truncate at the last user message.
        let c = h
            .invoke(
                "truncate_conversation",
                json!({"id": conv, "messageId": "m-3"}),
            )
            .unwrap();
        let ids: Vec<&str> = c["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["m-1", "m-2"]);
        assert_eq!(c["title"], "Cats");

        for (cmd, args, code) in [
            (
                "rename_conversation",
                json!({"id": conv, "title": "   "}),
                "invalid_input",
            ),
            (
                "rename_conversation",
                json!({"id": conv, "title": "x".repeat(crate::validate::MAX_TITLE_CHARS + 1)}),
                "invalid_input",
            ),
            (
                "rename_conversation",
                json!({"id": "../x", "title": "t"}),
                "invalid_input",
            ),
            (
                "rename_conversation",
                json!({"id": "c-none", "title": "t"}),
                "not_found",
            ),
            (
                "truncate_conversation",
                json!({"id": conv, "messageId": "m-9"}),
                "not_found",
            ),
            (
                "truncate_conversation",
                json!({"id": conv, "messageId": "../m"}),
                "invalid_input",
            ),
            (
                "truncate_conversation",
                json!({"id": "c-none", "messageId": "m-1"}),
                "not_found",
            ),
        ] {
            assert_eq!(h.error_code(cmd, args.clone()), code, "{cmd} {args}");
        }
    }
    // Saved: a restarted app sees both changes.
    let h = Harness::new(dir.path());
    let list = h.invoke("list_conversations", json!({})).unwrap();
    assert_eq!(list[0]["title"], "Cats");
    assert_eq!(list[0]["messages"], 2);
    let c = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    assert_eq!(c["messages"][1]["text"], "two");
    // Truncating at the first message empties it.
    let c = h
        .invoke(
            "truncate_conversation",
            json!({"id": conv, "messageId": "m-1"}),
        )
        .unwrap();
    assert_eq!(c["messages"], json!([]));
}

#[test]
fn settings_have_defaults_round_trip_and_drive_answers() {
    let dir = tempfile::tempdir().unwrap();
    {
        let h = Harness::new(dir.path());
        let s = h.invoke("get_settings", json!({})).unwrap();
        assert_eq!(
            s,
            json!({
                "temperature": 0.0, "topP": 1.0, "topK": 0, "maxNewTokens": 512,
                "repetitionPenalty": 1.0, "systemPrompt": "", "threads": 0, "device": "auto",
                "longestEdgeTiles": null, "theme": "system", "lastModel": null
            })
        );
        assert!(!dir.path().join("settings.json").exists());
        // A whole object, as the settings dialog sends it.
        let mut all = s.clone();
        all["temperature"] = json!(0.7);
        all["topK"] = json!(40);
        all["theme"] = json!("dark");
        all["device"] = json!("cpu");
        all["threads"] = json!(1);
        let saved = h.invoke("save_settings", json!({"settings": all})).unwrap();
        assert_eq!(saved, all);
        // Only some keys: the rest is kept.
        let saved = h
            .invoke(
                "save_settings",
                json!({"settings": {"maxNewTokens": 3, "systemPrompt": "Be brief."}}),
            )
            .unwrap();
        assert_eq!(saved["theme"], "dark");
        assert_eq!(saved["maxNewTokens"], 3);
        for bad in [
            json!({"temperature": 5.0}),
            json!({"topP": 0.0}),
            json!({"topK": 5000}),
            json!({"maxNewTokens": 0}),
            json!({"device": "gpu"}),
            json!({"theme": "blue"}),
            json!({"threads": 100_000}),
            json!({"longestEdgeTiles": 0}),
            json!({"noSuchKey": 1}),
            json!({"temperature": "hot"}),
            json!("not an object"),
        ] {
            assert_eq!(
                h.error_code("save_settings", json!({"settings": bad})),
                "invalid_input",
                "{bad}"
            );
        }
        assert_eq!(h.invoke("get_settings", json!({})).unwrap(), saved);

        // Loading applies device and threads (a one-thread pool) and records the model.
        h.load_tiny();
        assert_eq!(
            h.invoke("get_settings", json!({})).unwrap()["lastModel"],
            tiny_model()
        );
        // The settings dialog sends the whole object it read before the load: the load's record
        // stays.
        let mut stale = h.invoke("get_settings", json!({})).unwrap();
        stale["lastModel"] = json!(null);
        let kept = h
            .invoke("save_settings", json!({ "settings": stale }))
            .unwrap();
        assert_eq!(kept["lastModel"], tiny_model());
        // The saved settings are the defaults of what the UI leaves out: 3 tokens, and the
        // system prompt opens the conversation.
        let conv = h.new_conversation();
        h.send(&conv, "Hello", &[], json!({"ignoreEos": true}))
            .unwrap();
        let events = h.wait_end();
        let done = events.last().unwrap();
        assert_eq!(done["generatedTokens"], 3, "{events:?}");
        let with_system = events[0]["promptTokens"].as_u64().unwrap();
        h.invoke("save_settings", json!({"settings": {"systemPrompt": ""}}))
            .unwrap();
        h.events.lock().unwrap().clear();
        let conv = h.new_conversation();
        h.send(
            &conv,
            "Hello",
            &[],
            json!({"maxNewTokens": 5, "ignoreEos": true}),
        )
        .unwrap();
        let events = h.wait_end();
        assert_eq!(events.last().unwrap()["generatedTokens"], 5);
        assert!(events[0]["promptTokens"].as_u64().unwrap() < with_system);
    }
    // Persisted; a device this build lacks fails the next load with a typed error.
    let h = Harness::new(dir.path());
    let s = h.invoke("get_settings", json!({})).unwrap();
    assert_eq!(s["theme"], "dark");
    assert_eq!(s["temperature"], 0.7);
    assert_eq!(s["lastModel"], tiny_model());
    // (The app's engine is built without CUDA.)
    h.invoke("save_settings", json!({"settings": {"device": "cuda"}}))
        .unwrap();
    assert_eq!(
        h.error_code("load_model", json!({"path": tiny_model()})),
        "device"
    );
    drop(h);
    // A damaged file gives the defaults.
    std::fs::write(dir.path().join("settings.json"), "{ not json").unwrap();
    let h = Harness::new(dir.path());
    assert_eq!(
        h.invoke("get_settings", json!({})).unwrap()["theme"],
        "system"
    );
}

/// A hub on 127.0.0.1 serving the tiny model as catalog entries: the default (safetensors) and
/// `smolvlm-256m-q8_0` (the GGUF pair under the catalog's file names).
struct TestHubSetup {
    hub: TestHub,
}

const GGUF_MODEL: &str = "SmolVLM-256M-Instruct-Q8_0.gguf";
const GGUF_MMPROJ: &str = "mmproj-SmolVLM-256M-Instruct-Q8_0.gguf";

impl TestHubSetup {
    fn start() -> Self {
        let hub = TestHub::start().unwrap();
        hub.add_dir("HuggingFaceTB/SmolVLM-256M-Instruct", &tiny_dir())
            .unwrap();
        let read = |f: &str| std::fs::read(tiny_dir().join(f)).unwrap();
        hub.add_repo(
            "ggml-org/SmolVLM-256M-Instruct-GGUF",
            vec![
                (GGUF_MODEL.into(), read("model-q8_0.gguf")),
                (GGUF_MMPROJ.into(), read("mmproj-q8_0.gguf")),
                ("README.md".into(), b"not wanted".to_vec()),
            ],
        );
        Self { hub }
    }

    fn config(&self, cache: &Path) -> HubConfig {
        let mut cfg = HubConfig::new(smolvlm_hub::HubCache::new(cache));
        cfg.endpoint = self.hub.endpoint();
        cfg.use_env_proxy = false;
        cfg.max_retries = 3;
        cfg.backoff_base = Duration::from_millis(10);
        cfg.backoff_max = Duration::from_millis(40);
        cfg.connect_timeout = Duration::from_secs(2);
        cfg.read_timeout = Duration::from_secs(10);
        cfg.chunk_size = 64 * 1024;
        cfg
    }
}

/// Every `download-progress` app event.
fn record_download_events(h: &Harness) -> Arc<Mutex<Vec<Value>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    h.app
        .listen_any(crate::models::DOWNLOAD_PROGRESS_EVENT, move |e| {
            s.lock()
                .unwrap()
                .push(serde_json::from_str(e.payload()).unwrap());
        });
    seen
}

fn wait_download_end(h: &Harness) -> Vec<Value> {
    let start = Instant::now();
    loop {
        {
            let events = h.events.lock().unwrap();
            if events
                .iter()
                .any(|e| matches!(e["type"].as_str(), Some("done" | "cancelled" | "error")))
            {
                return events.clone();
            }
        }
        assert!(
            start.elapsed() < DOWNLOAD_WAIT,
            "timed out; events: {:?}",
            h.events.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn download(h: &Harness, id: &str) -> Result<Value, Value> {
    h.invoke(
        "download_model",
        json!({"id": id, "onEvent": format!("__CHANNEL__:{CHANNEL_ID}")}),
    )
}

fn catalog_item(h: &Harness, id: &str) -> Value {
    let list = h.invoke("list_catalog", json!({})).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list}"))
        .clone()
}

#[test]
fn the_catalog_lists_every_model() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let list = h.invoke("list_catalog", json!({})).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), smolvlm_hub::catalog().len());
    let defaults: Vec<_> = list.iter().filter(|m| m["isDefault"] == true).collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["id"], smolvlm_hub::DEFAULT_MODEL);
    for m in list {
        assert_eq!(m["installed"], false, "{m}");
        assert_eq!(m["partialBytes"], 0);
        assert!(m.get("installedPath").is_none());
        assert!(m["downloadBytes"].as_u64().unwrap() > 0);
        assert!(m["memoryBytes"].as_u64().unwrap() > 0);
        assert!(m["tokensPerTile"].as_u64().unwrap() > 0);
        assert!(m["tileSize"].as_u64().unwrap() > 0);
        assert!(m["title"].as_str().unwrap().contains("SmolVLM"));
        assert!(!m["goodFor"].as_str().unwrap().is_empty());
        match m["format"].as_str().unwrap() {
            "gguf" => assert!(m["quant"].is_string(), "{m}"),
            "safetensors" => assert!(m.get("quant").is_none(), "{m}"),
            other => panic!("format {other}"),
        }
    }
    let usage = h.invoke("models_disk_usage", json!({})).unwrap();
    assert_eq!(usage["bytes"], 0);
    assert_eq!(
        Path::new(usage["cacheDir"].as_str().unwrap()),
        dir.path().join("hf-cache")
    );
    // The hermetic hub is offline.
    let status = h.invoke("hub_status", json!({})).unwrap();
    assert_eq!(status["offline"], true);
    // Offline, a model that is not cached fails clearly.
    download(&h, "smolvlm-256m").unwrap();
    let events = wait_download_end(&h);
    assert_eq!(events.last().unwrap()["type"], "error", "{events:?}");
    assert_eq!(events.last().unwrap()["code"], "offline_not_cached");
    for (id, code) in [("no-such-model", "not_found"), ("", "invalid_input")] {
        assert_eq!(download(&h, id).unwrap_err()["code"], code, "{id}");
    }
    assert_eq!(
        h.invoke("cancel_download", json!({"id": "smolvlm-256m"}))
            .unwrap(),
        false
    );
    assert_eq!(
        h.error_code("delete_model", json!({"id": "smolvlm-256m"})),
        "not_installed"
    );
    assert_eq!(
        h.error_code("delete_model", json!({"id": "nope"})),
        "not_found"
    );
}

#[test]
fn a_download_streams_progress_and_installs_the_model() {
    let setup = TestHubSetup::start();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("hf-cache");
    let h = Harness::with_hub(dir.path(), setup.config(&cache));
    let broadcast = record_download_events(&h);
    assert_eq!(
        h.invoke("hub_status", json!({})).unwrap(),
        json!({"offline": false, "endpoint": setup.hub.endpoint()})
    );

    let ticket = download(&h, "smolvlm-256m").unwrap();
    assert!(ticket["downloadId"].is_string(), "{ticket}");
    let events = wait_download_end(&h);
    let last = events.last().unwrap();
    assert_eq!(last["type"], "done", "{events:?}");
    assert_eq!(events[0]["type"], "started", "{events:?}");
    // *.json, *.safetensors, *.jinja of the fixture folder.
    let wanted: Vec<String> = std::fs::read_dir(tiny_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json") || n.ends_with(".safetensors") || n.ends_with(".jinja"))
        .collect();
    assert_eq!(events[0]["files"], wanted.len());
    let total: u64 = wanted
        .iter()
        .map(|f| std::fs::metadata(tiny_dir().join(f)).unwrap().len())
        .sum();
    assert_eq!(events[0]["totalBytes"], total);
    let progress: Vec<&Value> = events.iter().filter(|e| e["type"] == "progress").collect();
    assert!(!progress.is_empty());
    let final_progress = progress.last().unwrap();
    assert_eq!(final_progress["bytes"], total);
    assert_eq!(final_progress["totalBytes"], total);
    for p in &progress {
        assert!(p["fileBytes"].as_u64().unwrap() <= p["fileTotal"].as_u64().unwrap());
        assert!(p["bytesPerS"].is_number());
    }
    let done_files: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "file-done")
        .map(|e| e["file"].as_str().unwrap())
        .collect();
    assert_eq!(done_files.len(), wanted.len());
    // Every window heard the same events, tagged with the catalog id.
    let seen = broadcast.lock().unwrap().clone();
    assert_eq!(seen.len(), events.len());
    assert!(seen.iter().all(|e| e["id"] == "smolvlm-256m"));
    assert_eq!(seen.last().unwrap()["event"], *last);

    // The files are in the cache, byte for byte, where `done` says.
    let path = PathBuf::from(last["path"].as_str().unwrap());
    assert!(path.starts_with(&cache), "{path:?}");
    for f in &wanted {
        assert_eq!(
            std::fs::read(path.join(f)).unwrap(),
            std::fs::read(tiny_dir().join(f)).unwrap(),
            "{f}"
        );
    }
    let item = catalog_item(&h, "smolvlm-256m");
    assert_eq!(item["installed"], true);
    assert_eq!(item["installedPath"], last["path"]);
    assert!(
        h.invoke("models_disk_usage", json!({})).unwrap()["bytes"]
            .as_u64()
            .unwrap()
            >= total
    );

    // It loads; the loaded model cannot be deleted; unloaded, it can.
    let info = h.invoke("load_model", json!({"path": path})).unwrap();
    assert_eq!(info["hasVision"], true);
    assert_eq!(
        h.error_code("delete_model", json!({"id": "smolvlm-256m"})),
        "model_in_use"
    );
    h.invoke("unload_model", json!({})).unwrap();
    assert_eq!(
        h.invoke("delete_model", json!({"id": "smolvlm-256m"}))
            .unwrap(),
        Value::Null
    );
    assert!(!path.exists());
    assert_eq!(catalog_item(&h, "smolvlm-256m")["installed"], false);
    assert_eq!(
        h.invoke("models_disk_usage", json!({})).unwrap()["bytes"],
        0
    );
}

#[test]
fn a_cancelled_download_keeps_its_partial_and_resumes() {
    let setup = TestHubSetup::start();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("hf-cache");
    let h = Harness::with_hub(dir.path(), setup.config(&cache));
    let id = "smolvlm-256m-q8_0";
    let size = std::fs::metadata(tiny_dir().join("model-q8_0.gguf"))
        .unwrap()
        .len();
    // The model file stalls after 1 MB, long enough to cancel in the middle.
    setup.hub.push_fault(
        GGUF_MODEL,
        Fault::StallAfter(1_000_000, Duration::from_secs(2)),
    );
    download(&h, id).unwrap();
    // The same model twice at once is refused (the stall keeps this one going), and neither
    // can it be deleted meanwhile.
    assert_eq!(
        download(&h, id).unwrap_err()["code"],
        "download_in_progress"
    );
    assert_eq!(
        h.error_code("delete_model", json!({"id": id})),
        "download_in_progress"
    );
    let start = Instant::now();
    loop {
        let partial = h.events.lock().unwrap().iter().any(|e| {
            e["type"] == "progress" && e["file"] == GGUF_MODEL && e["fileBytes"].as_u64() > Some(0)
        });
        if partial {
            break;
        }
        assert!(
            start.elapsed() < DOWNLOAD_WAIT,
            "{:?}",
            h.events.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        h.invoke("cancel_download", json!({"id": id})).unwrap(),
        true
    );
    let events = wait_download_end(&h);
    assert_eq!(
        events.last().unwrap(),
        &json!({"type": "cancelled"}),
        "{events:?}"
    );
    // The partial is on disk and reported.
    let blobs = cache
        .join("models--ggml-org--SmolVLM-256M-Instruct-GGUF")
        .join("blobs");
    let kept: u64 = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".incomplete"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(kept > 0 && kept < size, "kept {kept} of {size}");
    let item = catalog_item(&h, id);
    assert_eq!(item["installed"], false);
    assert_eq!(item["partialBytes"], kept);
    assert_eq!(
        h.invoke("cancel_download", json!({"id": id})).unwrap(),
        false
    );

    // A new download resumes from the partial.
    h.events.lock().unwrap().clear();
    let served_before = setup.hub.bytes_served(GGUF_MODEL);
    download(&h, id).unwrap();
    let events = wait_download_end(&h);
    let last = events.last().unwrap();
    assert_eq!(last["type"], "done", "{events:?}");
    let resumed = setup.hub.bytes_served(GGUF_MODEL) - served_before;
    assert_eq!(resumed, size - kept);
    let path = PathBuf::from(last["path"].as_str().unwrap());
    assert!(path.ends_with(GGUF_MODEL), "{path:?}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(tiny_dir().join("model-q8_0.gguf")).unwrap()
    );
    let item = catalog_item(&h, id);
    assert_eq!(item["installed"], true);
    assert_eq!(item["partialBytes"], 0);
    // The downloaded GGUF loads with its projector found beside it.
    let info = h.invoke("load_model", json!({"path": path})).unwrap();
    assert_eq!(info["hasVision"], true, "{info}");
    h.invoke("unload_model", json!({})).unwrap();
    h.invoke("delete_model", json!({"id": id})).unwrap();
    assert!(!path.exists());
}

#[test]
fn local_models_are_remembered_and_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let folder_id;
    {
        let h = Harness::new(dir.path());
        assert_eq!(h.invoke("list_local_models", json!({})).unwrap(), json!([]));
        let m = h
            .invoke("add_local_model", json!({"path": tiny_model()}))
            .unwrap();
        folder_id = m["id"].as_str().unwrap().to_string();
        assert!(folder_id.starts_with("local-"), "{m}");
        assert_eq!(m["name"], "tiny-smolvlm");
        assert_eq!(m["path"], tiny_model());
        assert!(m.get("mmproj").is_none());
        let status = h.invoke("model_status", json!({})).unwrap();
        assert_eq!(status["state"], "ready");
        assert_eq!(status["model"]["path"], tiny_model());
        // Adding it again keeps one entry.
        h.invoke("add_local_model", json!({"path": tiny_model()}))
            .unwrap();
        // A GGUF file takes the projector of its own quantization beside it.
        let gguf = tiny_dir().join("model-q8_0.gguf");
        let g = h.invoke("add_local_model", json!({"path": gguf})).unwrap();
        assert_eq!(g["path"], gguf.display().to_string());
        assert_eq!(
            g["mmproj"],
            tiny_dir().join("mmproj-q8_0.gguf").display().to_string()
        );
        let status = h.invoke("model_status", json!({})).unwrap();
        assert_eq!(status["model"]["hasVision"], true);
        assert_eq!(
            h.invoke("get_settings", json!({})).unwrap()["lastModel"],
            gguf.display().to_string()
        );
        // What is not a model is refused and not remembered.
        let junk = dir.path().join("junk");
        std::fs::create_dir(&junk).unwrap();
        std::fs::write(junk.join("notes.txt"), "hello").unwrap();
        let projector = tiny_dir().join("mmproj-q8_0.gguf");
        for (path, code) in [
            (junk.display().to_string(), "not_a_model"),
            (projector.display().to_string(), "not_a_model"),
            ("/no/such/model".to_string(), "not_found"),
            ("relative/model".to_string(), "invalid_input"),
        ] {
            assert_eq!(
                h.error_code("add_local_model", json!({"path": path})),
                code,
                "{path}"
            );
        }
        let list = h.invoke("list_local_models", json!({})).unwrap();
        assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    }
    // Remembered across restarts; deleting forgets it and leaves the files.
    let h = Harness::new(dir.path());
    let list = h.invoke("list_local_models", json!({})).unwrap();
    assert_eq!(list[0]["id"], folder_id.as_str());
    h.invoke("delete_model", json!({"id": folder_id})).unwrap();
    let list = h.invoke("list_local_models", json!({})).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(tiny_dir().join("config.json").exists());
    assert_eq!(
        h.error_code("delete_model", json!({"id": folder_id})),
        "not_found"
    );
}

#[test]
fn hub_status_reports_an_unreachable_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = hermetic_hub(dir.path());
    cfg.offline = false;
    cfg.endpoint = format!("http://127.0.0.1:{port}");
    let h = Harness::with_hub(dir.path(), cfg);
    assert_eq!(
        h.invoke("hub_status", json!({})).unwrap(),
        json!({"offline": true, "endpoint": format!("http://127.0.0.1:{port}")})
    );
}
