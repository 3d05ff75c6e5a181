//! Downloads against the project's own hub server on 127.0.0.1, with every fault the issue
//! lists. Nothing here touches any other address.

use std::path::{Path, PathBuf};
use std::time::Duration;

use smolvlm_hub::test_server::{Fault, TestHub, git_blob_id, sha256_hex};
use smolvlm_hub::{CancelToken, DownloadEvent, Hub, HubCache, HubConfig, HubError, ModelSpec};

const REPO: &str = "smolvlm-tests/tiny";
const WEIGHTS: &str = "model.safetensors";
const CHUNK: usize = 64 * 1024;

fn weights() -> Vec<u8> {
    // 1 MiB that is not all the same byte, so a shifted resume would change the hash.
    (0..1_048_576u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn config_json() -> Vec<u8> {
    br#"{"model_type": "idefics3", "note": "test"}"#.to_vec()
}

fn serve_tiny(hub: &TestHub) -> String {
    hub.add_repo(
        REPO,
        vec![
            ("config.json".into(), config_json()),
            (WEIGHTS.into(), weights()),
            ("onnx/decoder.onnx".into(), b"not wanted".to_vec()),
        ],
    )
}

fn config(hub: &TestHub, cache: &Path) -> HubConfig {
    let mut cfg = HubConfig::new(HubCache::new(cache));
    cfg.endpoint = hub.endpoint();
    cfg.use_env_proxy = false;
    cfg.max_retries = 3;
    cfg.backoff_base = Duration::from_millis(10);
    cfg.backoff_max = Duration::from_millis(40);
    cfg.connect_timeout = Duration::from_secs(2);
    cfg.read_timeout = Duration::from_millis(300);
    cfg.chunk_size = CHUNK;
    cfg
}

fn spec() -> ModelSpec {
    let mut s = ModelSpec::parse(REPO).unwrap();
    s.include = vec!["*.json".into(), "*.safetensors".into()];
    s
}

fn run(cfg: HubConfig) -> (Result<smolvlm_hub::Snapshot, HubError>, Vec<DownloadEvent>) {
    run_with(cfg, &CancelToken::new(), |_, _| {})
}

fn run_with(
    cfg: HubConfig,
    cancel: &CancelToken,
    mut hook: impl FnMut(&DownloadEvent, &CancelToken),
) -> (Result<smolvlm_hub::Snapshot, HubError>, Vec<DownloadEvent>) {
    let hub = Hub::new(cfg).unwrap();
    let mut events = Vec::new();
    let result = hub.download(&spec(), cancel, &mut |e| {
        hook(e, cancel);
        events.push(e.clone());
    });
    (result, events)
}

fn repo_dir(cache: &Path) -> PathBuf {
    cache.join("models--smolvlm-tests--tiny")
}

fn weights_blob(cache: &Path) -> PathBuf {
    repo_dir(cache).join("blobs").join(sha256_hex(&weights()))
}

fn weights_partial(cache: &Path) -> PathBuf {
    let mut p = weights_blob(cache).into_os_string();
    p.push(".incomplete");
    PathBuf::from(p)
}

fn resolve_requests(hub: &TestHub, file: &str) -> Vec<String> {
    hub.requests()
        .into_iter()
        .filter(|r| r.contains(&format!("/{file} ")))
        .collect()
}

#[test]
fn downloads_into_the_python_cache_layout_and_a_second_download_costs_no_transfer() {
    let hub = TestHub::start().unwrap();
    let commit = serve_tiny(&hub);
    let tmp = tempfile::tempdir().unwrap();
    let (snap, events) = run(config(&hub, tmp.path()));
    let snap = snap.unwrap();
    assert_eq!(snap.commit, commit);
    assert_eq!(snap.files, vec!["config.json", WEIGHTS]);
    assert_eq!(
        snap.transferred_bytes,
        (weights().len() + config_json().len()) as u64
    );
    let repo = repo_dir(tmp.path());
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main")).unwrap(),
        commit
    );
    assert!(
        repo.join("blobs")
            .join(git_blob_id(&config_json()))
            .is_file()
    );
    assert!(weights_blob(tmp.path()).is_file());
    let link = repo.join("snapshots").join(&commit).join(WEIGHTS);
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("../../blobs").join(sha256_hex(&weights()))
    );
    assert_eq!(std::fs::read(&link).unwrap(), weights());
    assert!(!repo.join("snapshots").join(&commit).join("onnx").exists());
    // Events: a plan, progress that ends at the total, each file done, finished.
    assert!(
        matches!(&events[0], DownloadEvent::Plan { total_bytes, .. } if *total_bytes == snap.transferred_bytes)
    );
    let last_progress = events
        .iter()
        .rev()
        .find_map(|e| match e {
            DownloadEvent::Progress { done, total, .. } => Some((*done, *total)),
            _ => None,
        })
        .unwrap();
    assert_eq!(last_progress.0, last_progress.1);
    assert!(matches!(
        events.last(),
        Some(DownloadEvent::Finished { .. })
    ));

    let served = hub.total_bytes_served();
    let (again, events) = run(config(&hub, tmp.path()));
    let again = again.unwrap();
    assert_eq!(again.transferred_bytes, 0);
    assert_eq!(hub.total_bytes_served(), served, "nothing re-sent");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, DownloadEvent::FileDone { cached: true, .. }))
    );
}

#[test]
fn a_cut_download_resumes_from_the_partial() {
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    hub.push_fault(WEIGHTS, Fault::CutAfter(300_000));
    let tmp = tempfile::tempdir().unwrap();
    let (snap, events) = run(config(&hub, tmp.path()));
    let snap = snap.unwrap();
    assert_eq!(std::fs::read(snap.path_of(WEIGHTS)).unwrap(), weights());
    let size = weights().len() as u64;
    let served = hub.bytes_served(WEIGHTS);
    assert!(
        served >= size && served - size <= CHUNK as u64,
        "served {served} for {size}"
    );
    assert!(
        resolve_requests(&hub, WEIGHTS)
            .iter()
            .any(|r| r.ends_with("bytes=300000-")),
        "{:?}",
        hub.requests()
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, DownloadEvent::Retrying { .. }))
    );
}

#[test]
fn a_stalled_transfer_times_out_and_resumes() {
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    hub.push_fault(
        WEIGHTS,
        Fault::StallAfter(200_000, Duration::from_millis(1500)),
    );
    let tmp = tempfile::tempdir().unwrap();
    let (snap, _) = run(config(&hub, tmp.path()));
    assert_eq!(
        std::fs::read(snap.unwrap().path_of(WEIGHTS)).unwrap(),
        weights()
    );
    let size = weights().len() as u64;
    assert!(hub.bytes_served(WEIGHTS) - size <= CHUNK as u64);
}

#[test]
fn server_errors_are_retried_then_succeed_or_give_up() {
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    hub.push_info_status(503);
    hub.push_fault(WEIGHTS, Fault::Status(500));
    let tmp = tempfile::tempdir().unwrap();
    let (snap, events) = run(config(&hub, tmp.path()));
    assert!(snap.is_ok(), "{snap:?}");
    let retries = events
        .iter()
        .filter(|e| matches!(e, DownloadEvent::Retrying { .. }))
        .count();
    assert_eq!(retries, 2);

    let tmp = tempfile::tempdir().unwrap();
    for _ in 0..4 {
        hub.push_fault(WEIGHTS, Fault::Status(502));
    }
    let (err, _) = run(config(&hub, tmp.path()));
    let err = err.unwrap_err();
    assert_eq!(err.code(), "hub_server_error", "{err}");
    assert!(
        matches!(
            err,
            HubError::Server {
                status: 502,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn gated_repositories_say_to_set_hf_token() {
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    hub.require_token(REPO, "hf_secret");
    let tmp = tempfile::tempdir().unwrap();
    let err = run(config(&hub, tmp.path())).0.unwrap_err();
    assert_eq!(err.code(), "hub_unauthorized");
    assert!(err.to_string().contains("HF_TOKEN"), "{err}");

    let mut cfg = config(&hub, tmp.path());
    cfg.token = Some("hf_secret".into());
    assert!(run(cfg).0.is_ok());

    // A 401 on one file (e.g. a gated file) is typed the same way.
    let tmp = tempfile::tempdir().unwrap();
    hub.push_fault(WEIGHTS, Fault::Status(401));
    let mut cfg = config(&hub, tmp.path());
    cfg.token = Some("hf_secret".into());
    assert_eq!(run(cfg).0.unwrap_err().code(), "hub_unauthorized");
}

#[test]
fn the_token_goes_to_the_hub_only_never_to_the_host_a_file_redirects_to() {
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    hub.require_token(REPO, "hf_secret");
    // `localhost` is another host than the endpoint's 127.0.0.1 (same server, same port).
    hub.redirect_lfs_to_host("localhost");
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(&hub, tmp.path());
    cfg.token = Some("hf_secret".into());
    assert!(run(cfg).0.is_ok());
    let seen = hub.authorizations();
    let (cdn, origin): (Vec<_>, Vec<_>) = seen.iter().partition(|(p, _)| p.starts_with("/cdn/"));
    assert!(!cdn.is_empty() && !origin.is_empty(), "{seen:?}");
    assert!(
        origin
            .iter()
            .all(|(_, a)| a.as_deref() == Some("Bearer hf_secret")),
        "{origin:?}"
    );
    assert!(
        cdn.iter().all(|(_, a)| a.is_none()),
        "the token followed a redirect: {cdn:?}"
    );
}

#[test]
fn the_token_is_not_in_debug_output() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = HubConfig::new(HubCache::new(tmp.path()));
    cfg.token = Some("hf_secret".into());
    let shown = format!("{cfg:?}");
    assert!(
        !shown.contains("hf_secret") && shown.contains("token"),
        "{shown}"
    );
}

#[test]
fn missing_repositories_revisions_and_files_are_not_found() {
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    let tmp = tempfile::tempdir().unwrap();
    let h = Hub::new(config(&hub, tmp.path())).unwrap();
    let cancel = CancelToken::new();
    for (text, include) in [
        ("smolvlm-tests/absent", vec![]),
        ("smolvlm-tests/tiny@v9", vec![]),
        ("smolvlm-tests/tiny", vec!["missing.gguf".to_string()]),
        ("smolvlm-tests/tiny", vec!["*.gguf".to_string()]),
    ] {
        let mut s = ModelSpec::parse(text).unwrap();
        s.include = include;
        let err = h.download(&s, &cancel, &mut |_| {}).unwrap_err();
        assert_eq!(err.code(), "hub_not_found", "{text}: {err}");
    }
    hub.push_fault(WEIGHTS, Fault::Status(404));
    assert_eq!(
        run(config(&hub, tmp.path())).0.unwrap_err().code(),
        "hub_not_found"
    );
}

#[test]
fn a_sha_mismatch_is_never_used_as_a_model() {
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    hub.push_fault(WEIGHTS, Fault::WrongContent);
    let tmp = tempfile::tempdir().unwrap();
    let err = run(config(&hub, tmp.path())).0.unwrap_err();
    assert_eq!(err.code(), "checksum_mismatch", "{err}");
    assert!(!weights_blob(tmp.path()).exists());
    assert!(
        !weights_partial(tmp.path()).exists(),
        "bad bytes are not kept for resuming"
    );
    let snaps = repo_dir(tmp.path()).join("snapshots");
    let linked: Vec<_> = walk(&snaps);
    assert!(!linked.iter().any(|p| p.ends_with(WEIGHTS)), "{linked:?}");
    // Offline it is not found either.
    let h = Hub::new(config(&hub, tmp.path())).unwrap();
    assert_eq!(h.locate(&spec()).unwrap_err().code(), "offline_not_cached");
    // A clean retry works.
    assert!(run(config(&hub, tmp.path())).0.is_ok());
}

#[test]
fn a_server_that_ignores_range_does_not_corrupt_the_resume() {
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    hub.push_fault(WEIGHTS, Fault::CutAfter(100_000));
    hub.push_fault(WEIGHTS, Fault::IgnoreRange);
    let tmp = tempfile::tempdir().unwrap();
    let snap = run(config(&hub, tmp.path())).0.unwrap();
    assert_eq!(std::fs::read(snap.path_of(WEIGHTS)).unwrap(), weights());
}

#[test]
fn cancel_leaves_a_partial_that_a_restart_resumes() {
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    let tmp = tempfile::tempdir().unwrap();
    let cancel = CancelToken::new();
    let (err, _) = run_with(config(&hub, tmp.path()), &cancel, |e, c| {
        if let DownloadEvent::Progress {
            file, file_done, ..
        } = e
            && file == WEIGHTS
            && *file_done > 0
        {
            c.cancel();
        }
    });
    let kept = match err.unwrap_err() {
        HubError::Cancelled { kept_bytes, .. } => kept_bytes,
        other => panic!("{other}"),
    };
    let size = weights().len() as u64;
    assert!(kept > 0 && kept < size, "kept {kept}");
    assert_eq!(
        std::fs::metadata(weights_partial(tmp.path()))
            .unwrap()
            .len(),
        kept
    );
    assert!(!weights_blob(tmp.path()).exists());

    // A new process (a new Hub) resumes from the partial.
    let before = hub.bytes_served(WEIGHTS);
    let (snap, events) = run(config(&hub, tmp.path()));
    assert_eq!(
        std::fs::read(snap.unwrap().path_of(WEIGHTS)).unwrap(),
        weights()
    );
    assert_eq!(hub.bytes_served(WEIGHTS) - before, size - kept);
    assert!(events.iter().any(
        |e| matches!(e, DownloadEvent::FileStarted { resume_from, .. } if *resume_from == kept)
    ));
    assert!(
        resolve_requests(&hub, WEIGHTS)
            .iter()
            .any(|r| r.ends_with(&format!("bytes={kept}-")))
    );
}

#[test]
fn offline_mode_uses_the_cache_and_fails_clearly_when_it_is_empty() {
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    let tmp = tempfile::tempdir().unwrap();
    let mut offline = config(&hub, tmp.path());
    offline.offline = true;
    let err = run(offline.clone()).0.unwrap_err();
    assert_eq!(err.code(), "offline_not_cached");
    assert!(err.to_string().contains("HF_HUB_OFFLINE"), "{err}");
    assert!(
        hub.requests().is_empty(),
        "offline must not touch the network"
    );

    run(config(&hub, tmp.path())).0.unwrap();
    let n = hub.requests().len();
    let snap = run(offline).0.unwrap();
    assert!(snap.from_cache_only);
    assert_eq!(std::fs::read(snap.path_of(WEIGHTS)).unwrap(), weights());
    assert_eq!(hub.requests().len(), n);

    // A hub that cannot be reached: the cache answers; with an empty cache, a network error.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut unreachable = config(&hub, tmp.path());
    unreachable.endpoint = format!("http://{closed}");
    unreachable.max_retries = 1;
    assert!(run(unreachable.clone()).0.unwrap().from_cache_only);
    let empty = tempfile::tempdir().unwrap();
    unreachable.cache = HubCache::new(empty.path());
    assert_eq!(run(unreachable).0.unwrap_err().code(), "hub_network");
}

#[test]
fn a_full_disk_is_reported_and_loses_nothing_already_downloaded() {
    // The disk fills through an injected write error (ErrorKind::StorageFull, what ENOSPC maps
    // to), which a test can do without root, unlike mounting a small tmpfs.
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(&hub, tmp.path());
    let limit = config_json().len() as u64 + 400_000;
    cfg.faults.disk_full_after_bytes = Some(limit);
    let err = run(cfg).0.unwrap_err();
    let kept = match &err {
        HubError::DiskFull { kept_bytes, .. } => *kept_bytes,
        other => panic!("{other}"),
    };
    assert_eq!(err.code(), "disk_full");
    assert_eq!(kept, 400_000);
    assert_eq!(
        std::fs::metadata(weights_partial(tmp.path()))
            .unwrap()
            .len(),
        kept
    );
    let config_blob = repo_dir(tmp.path())
        .join("blobs")
        .join(git_blob_id(&config_json()));
    assert_eq!(std::fs::read(&config_blob).unwrap(), config_json());

    // Space freed: the download resumes where the disk filled.
    let (snap, _) = run(config(&hub, tmp.path()));
    assert_eq!(
        std::fs::read(snap.unwrap().path_of(WEIGHTS)).unwrap(),
        weights()
    );
    assert!(
        resolve_requests(&hub, WEIGHTS)
            .iter()
            .any(|r| r.ends_with("bytes=400000-"))
    );

    // Not enough free space is refused before any transfer.
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(&hub, tmp.path());
    cfg.faults.free_space_bytes = Some(1000);
    let served = hub.total_bytes_served();
    assert_eq!(run(cfg).0.unwrap_err().code(), "insufficient_space");
    assert_eq!(hub.total_bytes_served(), served);
}

/// The hub is the one throttle of progress events: at most one per `progress_interval`, and the
/// first and completing chunk of every file always, so the app forwards them as they come.
#[test]
fn progress_is_throttled_but_the_first_and_last_chunk_of_each_file_always_arrive() {
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    let progress_of = |events: &[DownloadEvent], name: &str| -> Vec<(u64, u64)> {
        events
            .iter()
            .filter_map(|e| match e {
                DownloadEvent::Progress {
                    file,
                    file_done,
                    file_total,
                    ..
                } if file == name => Some((*file_done, *file_total)),
                _ => None,
            })
            .collect()
    };
    let size = weights().len() as u64;

    assert_eq!(
        smolvlm_hub::PROGRESS_INTERVAL,
        Duration::from_millis(100),
        "the documented default"
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(&hub, tmp.path());
    cfg.progress_interval = Duration::from_secs(3600);
    let (snap, events) = run(cfg);
    snap.unwrap();
    let weights_progress = progress_of(&events, WEIGHTS);
    assert_eq!(weights_progress.len(), 2, "{weights_progress:?}");
    let (first, _) = weights_progress[0];
    assert!(
        first > 0 && first <= CHUNK as u64,
        "the first chunk: {weights_progress:?}"
    );
    assert_eq!(weights_progress[1], (size, size), "the completing chunk");
    let config_len = config_json().len() as u64;
    assert_eq!(
        progress_of(&events, "config.json"),
        vec![(config_len, config_len)]
    );
    let total = match events.last() {
        Some(DownloadEvent::Finished {
            transferred_bytes, ..
        }) => *transferred_bytes,
        other => panic!("{other:?}"),
    };
    assert_eq!(total, size + config_len);

    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(&hub, tmp.path());
    cfg.progress_interval = Duration::ZERO;
    let (_, events) = run(cfg);
    let every = progress_of(&events, WEIGHTS);
    assert!(
        every.len() >= (size as usize).div_ceil(CHUNK),
        "every chunk: {}",
        every.len()
    );
    assert_eq!(every.last(), Some(&(size, size)));
}

#[test]
fn spawned_downloads_stream_events() {
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    let tmp = tempfile::tempdir().unwrap();
    let h = std::sync::Arc::new(Hub::new(config(&hub, tmp.path())).unwrap());
    let (rx, handle) = h.spawn_download(spec(), CancelToken::new());
    let events: Vec<DownloadEvent> = rx.iter().collect();
    assert!(handle.join().unwrap().is_ok());
    assert!(matches!(events.first(), Some(DownloadEvent::Plan { .. })));
    assert!(matches!(
        events.last(),
        Some(DownloadEvent::Finished { .. })
    ));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Same-size bytes that are not the weights, as a torn write, a bad disk or another tool can
/// leave under the blob's name.
fn corrupt_weights() -> Vec<u8> {
    let mut bad = weights();
    bad[1234] ^= 0xff;
    bad
}

#[test]
fn a_same_size_corrupted_blob_in_the_cache_is_never_used() {
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    let tmp = tempfile::tempdir().unwrap();
    run(config(&hub, tmp.path())).0.unwrap();
    // Replaced (a new file, as a copy or another downloader would leave it), same length.
    let blob = weights_blob(tmp.path());
    let replacement = blob.with_extension("new");
    std::fs::write(&replacement, corrupt_weights()).unwrap();
    std::fs::rename(&replacement, &blob).unwrap();

    let h = Hub::new(config(&hub, tmp.path())).unwrap();
    assert_eq!(
        h.locate(&spec()).unwrap_err().code(),
        "offline_not_cached",
        "offline, a corrupted blob is not a model"
    );
    let before = hub.bytes_served(WEIGHTS);
    let (snap, events) = run(config(&hub, tmp.path()));
    let snap = snap.unwrap();
    assert_eq!(std::fs::read(snap.path_of(WEIGHTS)).unwrap(), weights());
    assert_eq!(
        hub.bytes_served(WEIGHTS) - before,
        weights().len() as u64,
        "fetched again"
    );
    assert!(events.iter().any(|e| matches!(
        e,
        DownloadEvent::FileDone { file, cached: false, .. } if file == WEIGHTS
    )));
    assert!(h.locate(&spec()).is_ok());
}

#[test]
fn a_verified_blob_is_not_hashed_again_until_it_changes() {
    let hub = TestHub::start().unwrap();
    serve_tiny(&hub);
    let tmp = tempfile::tempdir().unwrap();
    run(config(&hub, tmp.path())).0.unwrap();
    let h = Hub::new(config(&hub, tmp.path())).unwrap();
    assert!(h.locate(&spec()).is_ok());

    // Changed in place with its length and modification time kept: the record of the
    // verification vouches for it, which is what lets start-up skip rehashing.
    let blob = weights_blob(tmp.path());
    let mtime = std::fs::metadata(&blob).unwrap().modified().unwrap();
    std::fs::write(&blob, corrupt_weights()).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&blob).unwrap();
    file.set_modified(mtime).unwrap();
    assert!(h.locate(&spec()).is_ok());

    // Any change of the modification time makes it be hashed again, and refused.
    file.set_modified(mtime + Duration::from_secs(1)).unwrap();
    drop(file);
    assert_eq!(h.locate(&spec()).unwrap_err().code(), "offline_not_cached");
}
