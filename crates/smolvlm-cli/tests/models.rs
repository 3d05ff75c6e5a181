//! `smolvlm models …` and `generate --model <org/repo>` against the project's own hub server on
//! 127.0.0.1 (HF_ENDPOINT), with a fresh cache per test. No other address is contacted.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use smolvlm_hub::test_server::TestHub;

mod common;
use common::json_of;

const REPO: &str = "smolvlm-tests/tiny-smolvlm";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-smolvlm")
}

/// The files a Hugging Face SmolVLM folder has, from the committed tiny model.
fn serve_fixture(hub: &TestHub) -> String {
    let files = [
        "config.json",
        "generation_config.json",
        "chat_template.json",
        "preprocessor_config.json",
        "processor_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "model.safetensors",
    ]
    .iter()
    .map(|f| (f.to_string(), std::fs::read(fixture().join(f)).unwrap()))
    .collect();
    hub.add_repo(REPO, files)
}

fn smolvlm(hub: &TestHub, cache: &Path, offline: bool, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smolvlm"));
    cmd.args(args)
        .env("HF_ENDPOINT", hub.endpoint())
        .env("HF_HUB_CACHE", cache)
        .env("SMOLVLM_HOME", cache.join("smolvlm-home"))
        .env_remove("HF_TOKEN")
        .env_remove("HF_HOME")
        .env_remove("HF_HUB_OFFLINE");
    for p in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(p);
    }
    if offline {
        cmd.env("HF_HUB_OFFLINE", "1");
    }
    cmd.output().expect("run smolvlm")
}

#[test]
fn generate_from_an_empty_cache_downloads_verifies_and_answers() {
    let hub = TestHub::start().unwrap();
    serve_fixture(&hub);
    let cache = tempfile::tempdir().unwrap();
    let image = fixture().join("img_wide_300x200.png");
    let image = image.to_str().unwrap();
    let common = [
        "--image",
        image,
        "--prompt",
        "What is in this image?",
        "--max-new-tokens",
        "6",
        "--json",
    ];

    let mut args = vec!["generate", "--model", REPO];
    args.extend(common);
    let out = smolvlm(&hub, cache.path(), false, &args);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("model.safetensors: downloaded, verified"),
        "{stderr}"
    );
    let via_hub = json_of(&out);

    // Same answer as the folder itself (the path form is unchanged).
    let dir = fixture();
    let mut args = vec!["generate", "--model", dir.to_str().unwrap()];
    args.extend(common);
    let direct = json_of(&smolvlm(&hub, cache.path(), false, &args));
    assert_eq!(via_hub["token_ids"], direct["token_ids"]);
    assert_eq!(via_hub["prompt_tokens"], direct["prompt_tokens"]);

    // Offline, the cache answers without the hub.
    let served = hub.total_bytes_served();
    let mut args = vec!["generate", "--model", REPO];
    args.extend(common);
    let out = smolvlm(&hub, cache.path(), true, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(hub.total_bytes_served(), served);
}

#[test]
fn models_download_path_list_remove_with_json() {
    let hub = TestHub::start().unwrap();
    let commit = serve_fixture(&hub);
    let cache = tempfile::tempdir().unwrap();

    // Offline with an empty cache: a clear typed error.
    let out = smolvlm(
        &hub,
        cache.path(),
        true,
        &["models", "download", REPO, "--json"],
    );
    assert!(!out.status.success());
    assert_eq!(json_of(&out)["error"]["code"], "offline_not_cached");
    assert!(hub.requests().is_empty());

    let out = smolvlm(
        &hub,
        cache.path(),
        false,
        &["models", "download", REPO, "--include", "*.json", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert_eq!(v["commit"], commit.as_str());
    assert!(
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f.as_str().unwrap().ends_with(".json"))
    );
    assert_eq!(hub.bytes_served("model.safetensors"), 0);

    let out = smolvlm(
        &hub,
        cache.path(),
        false,
        &["models", "download", REPO, "--json"],
    );
    assert!(out.status.success());
    let dir = PathBuf::from(json_of(&out)["model_path"].as_str().unwrap());
    assert!(dir.join("model.safetensors").is_file());

    let out = smolvlm(
        &hub,
        cache.path(),
        true,
        &["models", "path", REPO, "--json"],
    );
    assert_eq!(PathBuf::from(json_of(&out)["dir"].as_str().unwrap()), dir);

    let out = smolvlm(&hub, cache.path(), true, &["models", "list", "--json"]);
    let v = json_of(&out);
    assert!(
        v["catalog"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == "smolvlm-256m" && e["default"] == true)
    );
    let installed = v["installed"].as_array().unwrap();
    assert_eq!(installed.len(), 1);
    assert_eq!(installed[0]["repo"], REPO);
    assert!(installed[0]["disk_bytes"].as_u64().unwrap() > 26_000_000);

    let out = smolvlm(&hub, cache.path(), true, &["models", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("smolvlm-2.2b-q4_k_m"));

    let out = smolvlm(
        &hub,
        cache.path(),
        true,
        &["models", "remove", REPO, "--json"],
    );
    assert!(out.status.success());
    assert_eq!(json_of(&out)["removed_repo"], true);
    let out = smolvlm(
        &hub,
        cache.path(),
        true,
        &["models", "path", REPO, "--json"],
    );
    assert_eq!(json_of(&out)["error"]["code"], "offline_not_cached");
    let out = smolvlm(
        &hub,
        cache.path(),
        true,
        &["models", "download", "not a model", "--json"],
    );
    assert_eq!(json_of(&out)["error"]["code"], "invalid_model_id");
}

/// A catalog GGUF entry gives the text model and its projector, paired by the hub's policy
/// (`smolvlm_hub::pair_mmproj`, which takes the catalog's own pair), online and offline.
#[test]
fn a_catalog_gguf_entry_gives_its_projector() {
    let hub = TestHub::start().unwrap();
    let read = |f: &str| std::fs::read(fixture().join(f)).unwrap();
    hub.add_repo(
        "ggml-org/SmolVLM-256M-Instruct-GGUF",
        vec![
            (
                "SmolVLM-256M-Instruct-Q8_0.gguf".into(),
                read("model-q8_0.gguf"),
            ),
            (
                "mmproj-SmolVLM-256M-Instruct-Q8_0.gguf".into(),
                read("mmproj-q8_0.gguf"),
            ),
            (
                "mmproj-SmolVLM-256M-Instruct-f16.gguf".into(),
                read("mmproj-f16.gguf"),
            ),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    for (offline, command) in [(false, "download"), (true, "path")] {
        let out = smolvlm(
            &hub,
            cache.path(),
            offline,
            &["models", command, "smolvlm-256m-q8_0", "--json"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = json_of(&out);
        let model = PathBuf::from(v["model_path"].as_str().unwrap());
        let mmproj = PathBuf::from(v["mmproj_path"].as_str().unwrap());
        assert!(model.ends_with("SmolVLM-256M-Instruct-Q8_0.gguf"), "{v}");
        assert!(
            mmproj.ends_with("mmproj-SmolVLM-256M-Instruct-Q8_0.gguf"),
            "{v}"
        );
        assert!(model.is_file() && mmproj.is_file());
    }
}
