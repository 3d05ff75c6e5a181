//! Local models registered by path, and the installed-model list and removal.

use std::path::{Path, PathBuf};
use std::time::Duration;

use smolvlm_hub::test_server::TestHub;
use smolvlm_hub::{
    CancelToken, Hub, HubCache, HubConfig, HubError, LocalKind, LocalRegistry, ModelSpec, inspect,
    list_installed, remove,
};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-smolvlm")
}

fn copy(from: &Path, to_dir: &Path) -> PathBuf {
    let to = to_dir.join(from.file_name().unwrap());
    std::fs::copy(from, &to).unwrap();
    to
}

#[test]
fn a_hugging_face_folder_is_recognised() {
    let m = inspect(&fixture()).unwrap();
    assert_eq!(m.kind, LocalKind::HfFolder);
    assert!(m.vision);
    // Naming a file inside it means the folder.
    assert_eq!(
        inspect(&fixture().join("config.json")).unwrap().path,
        fixture()
    );
}

#[test]
fn a_gguf_pair_and_a_lone_text_gguf_are_told_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let model = copy(&fixture().join("model-q8_0.gguf"), tmp.path());
    let lone = inspect(&model).unwrap();
    assert_eq!(lone.kind, LocalKind::GgufTextOnly);
    assert!(!lone.vision);
    assert!(
        lone.notes.iter().any(|n| n.contains("text only")),
        "{:?}",
        lone.notes
    );

    let proj = copy(&fixture().join("mmproj-q8_0.gguf"), tmp.path());
    let pair = inspect(&model).unwrap();
    assert_eq!(pair.kind, LocalKind::GgufPair);
    assert_eq!(pair.mmproj.as_deref(), Some(proj.as_path()));
    assert!(pair.vision);
    // The folder alone is enough.
    assert_eq!(inspect(tmp.path()).unwrap().kind, LocalKind::GgufPair);
    // A projector alone is refused.
    let err = inspect(&proj).unwrap_err();
    assert_eq!(err.code(), "not_a_model");
    assert!(err.to_string().contains("projector"), "{err}");
}

/// Registration pairs a text GGUF with its projector by the hub's one policy
/// (`smolvlm_hub::pair_mmproj`): the same quant among several, and a clear refusal when no
/// projector is clearly its own.
#[test]
fn a_gguf_takes_the_projector_of_its_own_quant_and_refuses_to_guess() {
    let tmp = tempfile::tempdir().unwrap();
    let q8 = copy(&fixture().join("model-q8_0.gguf"), tmp.path());
    let p_q8 = copy(&fixture().join("mmproj-q8_0.gguf"), tmp.path());
    let p_f16 = copy(&fixture().join("mmproj-f16.gguf"), tmp.path());
    assert_eq!(
        inspect(&q8).unwrap().mmproj.as_deref(),
        Some(p_q8.as_path())
    );
    assert_eq!(smolvlm_hub::pair_mmproj(&q8).unwrap(), Some(p_q8.clone()));

    let q4 = tmp.path().join("model-q4_k_m.gguf");
    std::fs::copy(&q8, &q4).unwrap();
    match inspect(&q4).unwrap_err() {
        HubError::AmbiguousMmproj { model, candidates } => {
            assert_eq!(model, q4);
            assert_eq!(candidates, vec![p_f16, p_q8]);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn things_that_are_not_models_are_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let png = copy(&fixture().join("img_wide_300x200.png"), tmp.path());
    assert_eq!(inspect(&png).unwrap_err().code(), "not_a_model");

    let truncated = tmp.path().join("broken.gguf");
    std::fs::write(&truncated, b"GGUF\x03\x00\x00\x00\x01").unwrap();
    let err = inspect(&truncated).unwrap_err();
    assert!(err.to_string().contains("malformed GGUF"), "{err}");

    let other = tmp.path().join("bert");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("config.json"), br#"{"model_type": "bert"}"#).unwrap();
    assert!(inspect(&other).unwrap_err().to_string().contains("bert"));

    let no_weights = tmp.path().join("no-weights");
    std::fs::create_dir(&no_weights).unwrap();
    for f in ["config.json", "tokenizer.json", "preprocessor_config.json"] {
        copy(&fixture().join(f), &no_weights);
    }
    let err = inspect(&no_weights).unwrap_err();
    assert!(err.to_string().contains("safetensors"), "{err}");

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(inspect(&empty).unwrap_err().code(), "not_a_model");
    assert_eq!(
        inspect(&tmp.path().join("absent")).unwrap_err().code(),
        "io"
    );
}

#[test]
fn the_registry_keeps_paths_and_never_touches_files() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = LocalRegistry::new(tmp.path().join("reg/local-models.json"));
    assert!(reg.list().unwrap().is_empty());
    let a = reg.register(&fixture(), Some("Tiny")).unwrap();
    assert_eq!(a.id, "local:tiny");
    assert_eq!(
        reg.register(&fixture(), None).unwrap(),
        a,
        "same path, same entry"
    );
    let gguf_dir = tmp.path().join("g");
    std::fs::create_dir(&gguf_dir).unwrap();
    let model = copy(&fixture().join("model-f16.gguf"), &gguf_dir);
    let b = reg.register(&model, Some("tiny")).unwrap();
    assert_eq!(b.id, "local:tiny-2");
    assert_eq!(b.kind, LocalKind::GgufTextOnly);
    assert_eq!(reg.list().unwrap().len(), 2);
    assert_eq!(
        reg.register(&fixture().join("golden.json"), None)
            .unwrap_err()
            .code(),
        "not_a_model"
    );
    reg.unregister(&b.id).unwrap();
    assert!(model.is_file(), "unregistering keeps the user's file");
    assert_eq!(
        reg.unregister("local:nope").unwrap_err().code(),
        "not_installed"
    );
    std::fs::write(reg.path(), "not json").unwrap();
    assert_eq!(reg.list().unwrap_err().code(), "registry");
}

const GGUF_REPO: &str = "ggml-org/SmolVLM-256M-Instruct-GGUF";

fn serve_gguf_repo(hub: &TestHub) {
    let mut files = Vec::new();
    for q in ["Q8_0", "f16"] {
        files.push((
            format!("SmolVLM-256M-Instruct-{q}.gguf"),
            format!("text {q}").repeat(500).into_bytes(),
        ));
        files.push((
            format!("mmproj-SmolVLM-256M-Instruct-{q}.gguf"),
            format!("proj {q}").repeat(300).into_bytes(),
        ));
    }
    files.push(("README.md".into(), b"# readme".to_vec()));
    hub.add_repo(GGUF_REPO, files);
}

fn hub_for(hub: &TestHub, cache: &Path) -> Hub {
    let mut cfg = HubConfig::new(HubCache::new(cache));
    cfg.endpoint = hub.endpoint();
    cfg.use_env_proxy = false;
    cfg.read_timeout = Duration::from_secs(2);
    cfg.backoff_base = Duration::from_millis(10);
    Hub::new(cfg).unwrap()
}

#[test]
fn installed_models_are_listed_and_removed_without_touching_other_quants() {
    let server = TestHub::start().unwrap();
    serve_gguf_repo(&server);
    let tmp = tempfile::tempdir().unwrap();
    let hub = hub_for(&server, tmp.path());
    let q8 = ModelSpec::parse("smolvlm-256m-q8_0").unwrap();
    let f16 = ModelSpec::parse("smolvlm-256m-f16").unwrap();
    let cancel = CancelToken::new();
    let snap_q8 = hub.download(&q8, &cancel, &mut |_| {}).unwrap();
    assert_eq!(
        snap_q8.files.len(),
        2,
        "only the pair, not the other quant or the README"
    );
    let snap_f16 = hub.download(&f16, &cancel, &mut |_| {}).unwrap();

    let cache = hub.cache();
    let listed = list_installed(cache, None);
    assert_eq!(listed.len(), 1);
    let m = &listed[0];
    assert_eq!(m.repo, GGUF_REPO);
    assert_eq!(m.catalog_ids, vec!["smolvlm-256m-q8_0", "smolvlm-256m-f16"]);
    assert!(m.disk_bytes > 0 && m.partial_bytes == 0 && !m.loaded);
    assert_eq!(m.refs.get("main"), Some(&snap_q8.commit));

    // The loaded model is marked and cannot be removed.
    let loaded = snap_f16.path_of("SmolVLM-256M-Instruct-f16.gguf");
    assert!(list_installed(cache, Some(&loaded))[0].loaded);
    assert_eq!(
        remove(cache, &f16, Some(&loaded)).unwrap_err().code(),
        "model_in_use"
    );

    // Removing one quant keeps the other, with its blobs.
    let report = remove(cache, &q8, Some(&loaded)).unwrap();
    assert!(!report.removed_repo && report.freed_bytes > 0);
    assert!(!snap_q8.path_of("SmolVLM-256M-Instruct-Q8_0.gguf").exists());
    assert!(loaded.is_file());
    assert_eq!(
        list_installed(cache, None)[0].catalog_ids,
        vec!["smolvlm-256m-f16"]
    );
    assert_eq!(
        remove(cache, &q8, None).unwrap_err().code(),
        "not_installed"
    );

    // The last one takes the repository folder with it.
    let report = remove(cache, &f16, None).unwrap();
    assert!(report.removed_repo);
    assert!(list_installed(cache, None).is_empty());
}

#[cfg(unix)]
#[test]
fn removal_refuses_folders_that_are_not_the_caches_own() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("precious.bin"), b"keep").unwrap();
    let cache = HubCache::new(tmp.path());
    std::os::unix::fs::symlink(elsewhere.path(), tmp.path().join("models--org--linked")).unwrap();
    let spec = ModelSpec::parse("org/linked").unwrap();
    assert_eq!(remove(&cache, &spec, None).unwrap_err().code(), "not_ours");
    assert!(elsewhere.path().join("precious.bin").is_file());
    let spec = ModelSpec::parse("org/absent").unwrap();
    assert_eq!(
        remove(&cache, &spec, None).unwrap_err().code(),
        "not_installed"
    );
}

/// The 2.2B GGUF repository as the catalog sees it: Q4_K_M and Q8_0 both pair with the one
/// `mmproj-…-Q8_0.gguf`; the Q5_K_M is not in the catalog (fetched by repository id).
const SHARED_REPO: &str = "ggml-org/SmolVLM-Instruct-GGUF";
const SHARED_MMPROJ: &str = "mmproj-SmolVLM-Instruct-Q8_0.gguf";

fn serve_shared_projector_repo(hub: &TestHub) {
    let read = |f: &str| std::fs::read(fixture().join(f)).unwrap();
    let mut q4 = read("model-q8_0.gguf");
    q4.extend_from_slice(b"q4");
    let mut q5 = read("model-q8_0.gguf");
    q5.extend_from_slice(b"q5");
    hub.add_repo(
        SHARED_REPO,
        vec![
            ("SmolVLM-Instruct-Q4_K_M.gguf".into(), q4),
            ("SmolVLM-Instruct-Q5_K_M.gguf".into(), q5),
            ("SmolVLM-Instruct-Q8_0.gguf".into(), read("model-q8_0.gguf")),
            (SHARED_MMPROJ.into(), read("mmproj-q8_0.gguf")),
        ],
    );
}

#[test]
fn removing_one_quant_keeps_the_projector_another_installed_quant_shares() {
    let server = TestHub::start().unwrap();
    serve_shared_projector_repo(&server);
    let tmp = tempfile::tempdir().unwrap();
    let hub = hub_for(&server, tmp.path());
    let q4 = ModelSpec::parse("smolvlm-2.2b-q4_k_m").unwrap();
    let q8 = ModelSpec::parse("smolvlm-2.2b-q8_0").unwrap();
    let cancel = CancelToken::new();
    hub.download(&q4, &cancel, &mut |_| {}).unwrap();
    let snap = hub.download(&q8, &cancel, &mut |_| {}).unwrap();
    let cache = hub.cache();

    let report = remove(cache, &q4, None).unwrap();
    assert_eq!(
        std::fs::read(snap.path_of(SHARED_MMPROJ)).unwrap(),
        std::fs::read(fixture().join("mmproj-q8_0.gguf")).unwrap(),
        "the Q8_0 entry still has its projector"
    );
    assert_eq!(report.removed_files, vec!["SmolVLM-Instruct-Q4_K_M.gguf"]);
    assert!(!report.removed_repo);
    assert!(hub.locate(&q8).is_ok());
    assert_eq!(
        list_installed(cache, None)[0].catalog_ids,
        vec!["smolvlm-2.2b-q8_0"]
    );

    // The last entry that uses the projector takes it with it.
    let report = remove(cache, &q8, None).unwrap();
    assert!(report.removed_repo, "{report:?}");
}

#[test]
fn the_loaded_models_projector_is_never_removed() {
    let server = TestHub::start().unwrap();
    serve_shared_projector_repo(&server);
    let tmp = tempfile::tempdir().unwrap();
    let hub = hub_for(&server, tmp.path());
    let q8 = ModelSpec::parse("smolvlm-2.2b-q8_0").unwrap();
    let mut q5 = ModelSpec::parse(SHARED_REPO).unwrap();
    q5.include = vec!["SmolVLM-Instruct-Q5_K_M.gguf".into()];
    let cancel = CancelToken::new();
    hub.download(&q8, &cancel, &mut |_| {}).unwrap();
    let snap = hub.download(&q5, &cancel, &mut |_| {}).unwrap();
    // The loaded Q5_K_M is no catalog entry; its projector beside it is the shared one.
    let loaded = snap.path_of("SmolVLM-Instruct-Q5_K_M.gguf");
    assert_eq!(
        smolvlm_hub::pair_mmproj(&loaded).unwrap(),
        Some(snap.path_of(SHARED_MMPROJ))
    );

    let report = remove(hub.cache(), &q8, Some(&loaded)).unwrap();
    assert!(
        snap.path_of(SHARED_MMPROJ).is_file(),
        "the loaded model's projector stays"
    );
    assert_eq!(report.removed_files, vec!["SmolVLM-Instruct-Q8_0.gguf"]);
    assert!(loaded.is_file());
}

fn hold_lock(cache: &Path, repo: &str, blob_id: &str) -> std::fs::File {
    // Exactly what Python's `huggingface_hub` does while it writes a blob (`filelock` takes an
    // exclusive `flock` on this file).
    let path = cache
        .join(".locks")
        .join(HubCache::folder_name(repo))
        .join(format!("{blob_id}.lock"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(&path).unwrap();
    file.try_lock().unwrap();
    file
}

#[test]
fn removal_keeps_partials_that_another_download_is_writing() {
    let server = TestHub::start().unwrap();
    serve_gguf_repo(&server);
    let tmp = tempfile::tempdir().unwrap();
    let hub = hub_for(&server, tmp.path());
    let q8 = ModelSpec::parse("smolvlm-256m-q8_0").unwrap();
    let f16 = ModelSpec::parse("smolvlm-256m-f16").unwrap();
    let cancel = CancelToken::new();
    hub.download(&q8, &cancel, &mut |_| {}).unwrap();
    hub.download(&f16, &cancel, &mut |_| {}).unwrap();
    let blobs = hub.cache().repo_dir(GGUF_REPO).join("blobs");
    let (writing, abandoned) = ("ab".repeat(32), "cd".repeat(32));
    let partial = |id: &str| blobs.join(format!("{id}.incomplete"));
    std::fs::write(partial(&writing), b"resumable bytes").unwrap();
    std::fs::write(partial(&abandoned), b"nobody's").unwrap();
    let lock = hold_lock(tmp.path(), GGUF_REPO, &writing);

    remove(hub.cache(), &q8, None).unwrap();
    assert!(
        partial(&writing).is_file(),
        "a partial someone writes is kept"
    );
    assert!(
        !partial(&abandoned).exists(),
        "one nobody holds is collected"
    );

    // The last entry goes, the folder stays for the partial being written.
    let report = remove(hub.cache(), &f16, None).unwrap();
    assert!(!report.removed_repo);
    assert!(partial(&writing).is_file());

    // Removing the whole repository is refused while someone writes in it.
    let whole = ModelSpec::parse(GGUF_REPO).unwrap();
    assert_eq!(
        remove(hub.cache(), &whole, None).unwrap_err().code(),
        "download_locked"
    );
    assert!(partial(&writing).is_file());
    drop(lock);
    assert!(remove(hub.cache(), &whole, None).unwrap().removed_repo);
}
