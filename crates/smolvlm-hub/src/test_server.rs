//! A small Hugging Face hub on 127.0.0.1 for offline tests (feature `test-server`): it serves
//! repositories from memory through the routes the client uses, with faults on demand.
//!
//! * `GET /api/models/<org>/<name>/revision/<rev>?blobs=true`: model info with sizes, git blob
//!   ids and LFS sha256 oids.
//! * `GET /<org>/<name>/resolve/<rev>/<path>`: small files directly (`ETag` = blob id); LFS
//!   files (`.safetensors`, `.gguf`, images, anything over 10 KiB) by a 302 to
//!   `/cdn/<org>/<name>/<sha256>/<path>`, like the hub's CDN redirect. Both honour `Range`.
//!
//! Faults are queued per file name and used once each, in order.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// A fault for the next request of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Send this many body bytes, then close the connection.
    CutAfter(u64),
    /// Send this many body bytes, then send nothing for the duration, then close.
    StallAfter(u64, Duration),
    /// Answer this status instead of the file (on the resolve route).
    Status(u16),
    /// Serve the file with one byte changed (its hash no longer matches).
    WrongContent,
    /// Answer 200 with the whole file even when a range was asked.
    IgnoreRange,
}

struct RepoData {
    commit: String,
    files: BTreeMap<String, Vec<u8>>,
    token: Option<String>,
}

#[derive(Default)]
struct State {
    repos: HashMap<String, RepoData>,
    faults: HashMap<String, VecDeque<Fault>>,
    info_faults: VecDeque<u16>,
    served: HashMap<String, u64>,
    requests: Vec<String>,
    /// The `Authorization` header of every request so far, by path.
    authorizations: Vec<(String, Option<String>)>,
    /// The host LFS redirects name instead of the server's address (the CDN being another host).
    cdn_host: Option<String>,
    /// Connections still being answered.
    in_flight: usize,
}

/// The server; it stops when dropped.
pub struct TestHub {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether the test hub stores `path` in LFS (then its checksum is a sha256).
pub fn is_lfs(path: &str, len: usize) -> bool {
    len > 10 * 1024
        || [".safetensors", ".gguf", ".png", ".bin"]
            .iter()
            .any(|e| path.ends_with(e))
}

/// The git blob id of `data`.
pub fn git_blob_id(data: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", data.len()).as_bytes());
    h.update(data);
    hex::encode(h.finalize())
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

impl TestHub {
    /// Listens on an ephemeral port of 127.0.0.1.
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                lock(&st).in_flight += 1;
                std::thread::spawn(move || {
                    let _ = handle(conn, addr, &st);
                    lock(&st).in_flight -= 1;
                });
            }
        });
        Ok(Self { addr, state, stop })
    }

    /// `http://127.0.0.1:<port>`, for `HF_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `files` as `repo` at a commit derived from their content; returns the commit.
    pub fn add_repo(&self, repo: &str, files: Vec<(String, Vec<u8>)>) -> String {
        let mut h = Sha1::new();
        for (name, data) in &files {
            h.update(name.as_bytes());
            h.update(sha256_hex(data).as_bytes());
        }
        let commit = hex::encode(h.finalize());
        lock(&self.state).repos.insert(
            repo.to_string(),
            RepoData {
                commit: commit.clone(),
                files: files.into_iter().collect(),
                token: None,
            },
        );
        commit
    }

    /// Serves every file of `dir` (not recursive) as `repo`.
    pub fn add_dir(&self, repo: &str, dir: &Path) -> std::io::Result<String> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                files.push((name, std::fs::read(entry.path())?));
            }
        }
        Ok(self.add_repo(repo, files))
    }

    /// Makes `repo` gated: 401 without `Authorization: Bearer <token>`.
    pub fn require_token(&self, repo: &str, token: &str) {
        if let Some(r) = lock(&self.state).repos.get_mut(repo) {
            r.token = Some(token.to_string());
        }
    }

    /// Queues a fault for the next request of `file` (any repository).
    pub fn push_fault(&self, file: &str, fault: Fault) {
        lock(&self.state)
            .faults
            .entry(file.to_string())
            .or_default()
            .push_back(fault);
    }

    /// Queues a status for the next model-info request.
    pub fn push_info_status(&self, status: u16) {
        lock(&self.state).info_faults.push_back(status);
    }

    /// Body bytes of `file` sent so far, over all requests.
    pub fn bytes_served(&self, file: &str) -> u64 {
        self.wait_idle();
        lock(&self.state).served.get(file).copied().unwrap_or(0)
    }

    /// Body bytes of all files sent so far.
    pub fn total_bytes_served(&self) -> u64 {
        self.wait_idle();
        lock(&self.state).served.values().sum()
    }

    /// Waits (up to 5 s) for answers still being written: a client that hangs up mid-body leaves
    /// the server writing into the socket buffer for a moment, and those bytes must be counted
    /// before a test compares totals.
    fn wait_idle(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while lock(&self.state).in_flight > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Redirects LFS files to `host` (with this server's port) instead of `127.0.0.1`, as the
    /// hub sends them to its CDN: a client that sees another host there must not send the token.
    pub fn redirect_lfs_to_host(&self, host: &str) {
        lock(&self.state).cdn_host = Some(host.to_string());
    }

    /// `(path, Authorization header)` of every request so far.
    pub fn authorizations(&self) -> Vec<(String, Option<String>)> {
        lock(&self.state).authorizations.clone()
    }

    /// `METHOD path range` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state).requests.clone()
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

struct Request {
    path: String,
    headers: HashMap<String, String>,
}

fn read_request(conn: &TcpStream) -> std::io::Result<Option<Request>> {
    let mut reader = BufReader::new(conn.take(64 * 1024));
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(_method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let path = target.split('?').next().unwrap_or("").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    Ok(Some(Request { path, headers }))
}

fn respond(
    conn: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    conn.flush()
}

fn handle(mut conn: TcpStream, addr: SocketAddr, state: &Mutex<State>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let Some(req) = read_request(&conn)? else {
        return Ok(());
    };
    let range = req.headers.get("range").cloned();
    lock(state).requests.push(format!(
        "GET {} {}",
        req.path,
        range.as_deref().unwrap_or("-")
    ));
    let segs: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let auth = req.headers.get("authorization").cloned();
    lock(state)
        .authorizations
        .push((req.path.clone(), auth.clone()));
    match segs.as_slice() {
        ["api", "models", org, name, "revision", rev] => {
            let repo = format!("{org}/{name}");
            let mut st = lock(state);
            if let Some(status) = st.info_faults.pop_front() {
                drop(st);
                return respond(&mut conn, status, &[], b"{\"error\":\"injected\"}");
            }
            let Some(data) = st.repos.get(&repo) else {
                drop(st);
                return respond(
                    &mut conn,
                    404,
                    &[("X-Error-Code", "RepoNotFound".into())],
                    b"{}",
                );
            };
            if let Some(t) = &data.token
                && auth.as_deref() != Some(&format!("Bearer {t}"))
            {
                drop(st);
                return respond(
                    &mut conn,
                    401,
                    &[("X-Error-Code", "GatedRepo".into())],
                    b"{}",
                );
            }
            if *rev != "main" && *rev != data.commit {
                drop(st);
                return respond(
                    &mut conn,
                    404,
                    &[("X-Error-Code", "RevisionNotFound".into())],
                    b"{}",
                );
            }
            let siblings: Vec<serde_json::Value> = data
                .files
                .iter()
                .map(|(name, bytes)| {
                    let mut v = serde_json::json!({
                        "rfilename": name,
                        "size": bytes.len(),
                        "blobId": git_blob_id(bytes),
                    });
                    if is_lfs(name, bytes.len()) {
                        v["lfs"] = serde_json::json!({
                            "sha256": sha256_hex(bytes),
                            "size": bytes.len(),
                            "pointerSize": 134,
                        });
                    }
                    v
                })
                .collect();
            let body = serde_json::json!({"id": repo, "sha": data.commit, "siblings": siblings});
            drop(st);
            respond(
                &mut conn,
                200,
                &[("Content-Type", "application/json".into())],
                body.to_string().as_bytes(),
            )
        }
        [org, name, "resolve", rev, rest @ ..] if !rest.is_empty() => {
            let repo = format!("{org}/{name}");
            let file = rest.join("/");
            let mut st = lock(state);
            let Some(data) = st.repos.get(&repo) else {
                drop(st);
                return respond(
                    &mut conn,
                    404,
                    &[("X-Error-Code", "RepoNotFound".into())],
                    b"",
                );
            };
            if let Some(t) = &data.token
                && auth.as_deref() != Some(&format!("Bearer {t}"))
            {
                drop(st);
                return respond(&mut conn, 401, &[("X-Error-Code", "GatedRepo".into())], b"");
            }
            if *rev != "main" && *rev != data.commit {
                drop(st);
                return respond(
                    &mut conn,
                    404,
                    &[("X-Error-Code", "RevisionNotFound".into())],
                    b"",
                );
            }
            let commit = data.commit.clone();
            let cdn = match &st.cdn_host {
                Some(host) => format!("{host}:{}", addr.port()),
                None => addr.to_string(),
            };
            let Some(bytes) = data.files.get(&file).cloned() else {
                drop(st);
                return respond(
                    &mut conn,
                    404,
                    &[("X-Error-Code", "EntryNotFound".into())],
                    b"",
                );
            };
            let queue = st.faults.entry(file.clone()).or_default();
            if let Some(Fault::Status(status)) = queue.front().cloned() {
                queue.pop_front();
                drop(st);
                return respond(&mut conn, status, &[], b"injected");
            }
            drop(st);
            if is_lfs(&file, bytes.len()) {
                let sha = sha256_hex(&bytes);
                let location = format!("http://{cdn}/cdn/{org}/{name}/{sha}/{file}");
                return respond(
                    &mut conn,
                    302,
                    &[
                        ("Location", location),
                        ("X-Repo-Commit", commit),
                        ("X-Linked-Etag", format!("\"{sha}\"")),
                        ("X-Linked-Size", bytes.len().to_string()),
                    ],
                    b"",
                );
            }
            let etag = git_blob_id(&bytes);
            serve(
                &mut conn,
                state,
                &file,
                &bytes,
                range.as_deref(),
                &[("X-Repo-Commit", commit), ("ETag", format!("\"{etag}\""))],
            )
        }
        ["cdn", org, name, sha, rest @ ..] if !rest.is_empty() => {
            let repo = format!("{org}/{name}");
            let file = rest.join("/");
            let bytes = {
                let st = lock(state);
                st.repos
                    .get(&repo)
                    .and_then(|d| d.files.get(&file))
                    .cloned()
            };
            match bytes {
                Some(b) if sha256_hex(&b) == *sha => {
                    serve(&mut conn, state, &file, &b, range.as_deref(), &[])
                }
                _ => respond(&mut conn, 404, &[], b""),
            }
        }
        _ => respond(&mut conn, 404, &[], b""),
    }
}

fn serve(
    conn: &mut TcpStream,
    state: &Mutex<State>,
    file: &str,
    bytes: &[u8],
    range: Option<&str>,
    extra: &[(&str, String)],
) -> std::io::Result<()> {
    let fault = {
        let mut st = lock(state);
        let queue = st.faults.entry(file.to_string()).or_default();
        match queue.front() {
            Some(Fault::Status(_)) | None => None,
            Some(_) => queue.pop_front(),
        }
    };
    let mut body = bytes.to_vec();
    if fault == Some(Fault::WrongContent) && !body.is_empty() {
        let mid = body.len() / 2;
        body[mid] ^= 0xff;
    }
    let len = body.len() as u64;
    let start = match range {
        Some(r) if fault != Some(Fault::IgnoreRange) => r
            .strip_prefix("bytes=")
            .and_then(|r| r.split('-').next())
            .and_then(|s| s.parse::<u64>().ok()),
        _ => None,
    };
    let mut headers: Vec<(&str, String)> = extra.to_vec();
    let (status, from) = match start {
        Some(s) if s >= len && len > 0 => {
            headers.push(("Content-Range", format!("bytes */{len}")));
            return respond(conn, 416, &headers, b"");
        }
        Some(s) => {
            headers.push((
                "Content-Range",
                format!("bytes {s}-{}/{len}", len.saturating_sub(1)),
            ));
            (206, s)
        }
        None => (200, 0),
    };
    let slice = &body[from as usize..];
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n",
        slice.len()
    );
    for (k, v) in &headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    let limit = match &fault {
        Some(Fault::CutAfter(n)) | Some(Fault::StallAfter(n, _)) => (*n as usize).min(slice.len()),
        _ => slice.len(),
    };
    for chunk in slice[..limit].chunks(16 * 1024) {
        conn.write_all(chunk)?;
        *lock(state).served.entry(file.to_string()).or_default() += chunk.len() as u64;
    }
    conn.flush()?;
    if let Some(Fault::StallAfter(_, d)) = &fault {
        std::thread::sleep(*d);
    }
    if limit < slice.len() {
        let _ = conn.shutdown(Shutdown::Both);
    }
    Ok(())
}
