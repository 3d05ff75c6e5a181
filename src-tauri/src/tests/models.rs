//! Models: the catalog, downloads from the in-test hub (progress, cancel with a kept partial,
//! resume, delete), local models and the hub's reachability.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use smolvlm_hub::HubConfig;
use smolvlm_hub::test_server::{Fault, TestHub};
use tauri::Listener;

use super::harness::*;

const DOWNLOAD_WAIT: Duration = Duration::from_secs(120);

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
        h.drop_paths([junk.clone(), "/no/such/model".into()]);
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
