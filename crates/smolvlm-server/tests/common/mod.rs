//! A server on the committed tiny model, and a plain HTTP client for it (ureq, blocking).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use smolvlm::LoadOptions;
use smolvlm_server::{CatalogModel, ServerConfig, ServerHandle, StaticCatalog};
use smolvlm_worker::{Worker, WorkerConfig};

pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-smolvlm")
}

pub fn golden_case(id: u64) -> Value {
    let golden: Value =
        serde_json::from_slice(&std::fs::read(fixture().join("golden.json")).unwrap()).unwrap();
    golden["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()
        .clone()
}

pub fn data_url(file: &str) -> String {
    let bytes = std::fs::read(fixture().join(file)).unwrap();
    data_url_of(&bytes)
}

pub fn data_url_of(bytes: &[u8]) -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

pub struct TestServer {
    pub handle: ServerHandle,
    pub worker: Worker,
    pub base: String,
}

pub struct Options {
    pub capacity: usize,
    pub load: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            capacity: 16,
            load: true,
        }
    }
}

pub fn catalog() -> StaticCatalog {
    StaticCatalog(vec![
        CatalogModel {
            id: "tiny".into(),
            path: fixture(),
            mmproj: None,
            created: 1,
        },
        CatalogModel {
            id: "tiny-q8".into(),
            path: fixture().join("model-q8_0.gguf"),
            mmproj: Some(fixture().join("mmproj-q8_0.gguf")),
            created: 2,
        },
    ])
}

pub fn serve(options: Options, tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let worker = Worker::spawn(
        WorkerConfig {
            queue_capacity: options.capacity,
        },
        Arc::new(|_| {}),
    );
    // One thread per model: the tests run side by side on few cores.
    let load_options = LoadOptions {
        threads: 1,
        ..LoadOptions::default()
    };
    if options.load {
        worker
            .load(&fixture(), load_options.clone())
            .unwrap()
            .recv()
            .unwrap()
            .unwrap();
    }
    let mut config = ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        load_options,
        ..ServerConfig::default()
    };
    tweak(&mut config);
    let handle = smolvlm_server::start(config, worker.clone(), Arc::new(catalog())).unwrap();
    let base = format!("http://{}", handle.local_addr());
    TestServer {
        handle,
        worker,
        base,
    }
}

pub fn start() -> TestServer {
    serve(Options::default(), |_| {})
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} (status {})", self.text, self.status))
    }

    /// Asserts an OpenAI error object with this status, type and code; returns it.
    pub fn error(&self, status: u16, kind: &str, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text);
        let v = self.json();
        let e = &v["error"];
        assert_eq!(e["type"], kind, "{v}");
        assert_eq!(e["code"], code, "{v}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        assert!(e.as_object().unwrap().contains_key("param"), "{v}");
        e.clone()
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build()
}

fn reply(result: Result<ureq::Response, ureq::Error>) -> Reply {
    let r = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    Reply {
        status: r.status(),
        retry_after: r.header("retry-after").map(str::to_string),
        content_type: r.header("content-type").map(str::to_string),
        text: r.into_string().unwrap(),
    }
}

pub fn post_raw(url: &str, body: &str, key: Option<&str>) -> Reply {
    let mut req = agent().post(url).set("Content-Type", "application/json");
    if let Some(k) = key {
        req = req.set("Authorization", &format!("Bearer {k}"));
    }
    reply(req.send_string(body))
}

pub fn post(s: &TestServer, body: &Value) -> Reply {
    post_raw(
        &format!("{}/v1/chat/completions", s.base),
        &body.to_string(),
        None,
    )
}

pub fn get(url: &str) -> Reply {
    reply(agent().get(url).call())
}

pub fn request(method: &str, url: &str) -> Reply {
    reply(agent().request(method, url).call())
}

/// A user turn asking about the golden's first image.
pub fn image_question(url: &str, text: &str) -> Value {
    json!({"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}},
        {"type": "text", "text": text},
    ]})
}

/// An open SSE response, read event by event.
pub struct Sse {
    pub status: u16,
    pub content_type: Option<String>,
    lines: std::io::Lines<BufReader<Box<dyn Read + Send + Sync>>>,
}

impl Sse {
    pub fn open(s: &TestServer, body: &Value) -> Result<Sse, Reply> {
        let r = agent()
            .post(&format!("{}/v1/chat/completions", s.base))
            .set("Content-Type", "application/json")
            .send_string(&body.to_string());
        match r {
            Ok(r) => Ok(Sse {
                status: r.status(),
                content_type: r.header("content-type").map(str::to_string),
                lines: BufReader::new(r.into_reader()).lines(),
            }),
            Err(e) => Err(reply(Err(e))),
        }
    }

    /// The next `data:` payload (comments and blank lines skipped); None at the end.
    pub fn next_data(&mut self) -> Option<String> {
        for line in self.lines.by_ref() {
            let line = line.ok()?;
            if let Some(data) = line.strip_prefix("data:") {
                return Some(data.trim_start().to_string());
            }
        }
        None
    }

    /// Every payload to the end, `[DONE]` included.
    pub fn all(mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(d) = self.next_data() {
            out.push(d);
        }
        out
    }
}

/// Waits for `f` to hold, up to `limit`; returns how long it took.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// A request that would run for ~8000 tokens (this prompt never meets end-of-utterance on the
/// tiny model, greedy): seconds of work, so a cancel is visible.
pub fn long_request(stream: bool) -> Value {
    json!({
        "model": "tiny",
        "messages": [{"role": "user", "content": "Tell me a very long story."}],
        "max_tokens": 8000,
        "temperature": 0,
        "stream": stream,
    })
}
