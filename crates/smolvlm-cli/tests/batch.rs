//! The `smolvlm batch` contract: one JSON line per file (answers equal to `generate --json`'s,
//! bad files as typed errors), the CSV, resuming after a truncated line, a kill or Ctrl+C, and
//! remote endpoints (a fake OpenAI server; a refused port).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{fixtures, model, smolvlm};

const PROMPT: &str = "What is in this image?";

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The fixture's three images (one in a subfolder, one with an upper-case extension), a PNG cut
/// short, text named `.jpg`, and a `.txt` a folder walk must not pick up.
fn image_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = fixtures().join("tiny-smolvlm");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for (from, to) in [
        ("img_wide_300x200.png", "wide.png"),
        ("img_tall_96x300.png", "sub/tall.PNG"),
        ("img_long_500x120.png", "long.png"),
    ] {
        std::fs::copy(src.join(from), dir.path().join(to)).unwrap();
    }
    let png = std::fs::read(src.join("img_wide_300x200.png")).unwrap();
    std::fs::write(dir.path().join("corrupt.png"), &png[..100]).unwrap();
    std::fs::write(dir.path().join("text.jpg"), "not a picture\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored by the walk\n").unwrap();
    dir
}

const GOOD: [&str; 3] = ["long.png", "sub/tall.PNG", "wide.png"];

fn path_in(dir: &Path, rel: &str) -> String {
    dir.join(rel).display().to_string()
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

fn by_file(lines: &[Value]) -> HashMap<String, Value> {
    let mut map = HashMap::new();
    for l in lines {
        let file = l["file"].as_str().unwrap().to_string();
        assert!(
            map.insert(file.clone(), l.clone()).is_none(),
            "{file} twice"
        );
    }
    map
}

fn local_batch(dir: &Path, out: &Path, extra: &[&str]) -> Output {
    let m = model();
    let d = dir.display().to_string();
    let o = out.display().to_string();
    let mut args = vec![
        "batch",
        "--model",
        &m,
        "--prompt",
        PROMPT,
        "--max-new-tokens",
        "12",
        "--out",
        &o,
        &d,
    ];
    args.extend_from_slice(extra);
    smolvlm(&args)
}

#[test]
fn every_file_gets_a_line_answers_equal_generate_and_bad_files_are_errors() {
    let dir = image_folder();
    let out = dir.path().join("results.jsonl");
    let csv = dir.path().join("results.csv");
    let notes = path_in(dir.path(), "notes.txt");
    let c = csv.display().to_string();
    let run = local_batch(dir.path(), &out, &["--csv", &c, &notes]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("3 done, 0 skipped, 3 failed"),
        "{}",
        stderr(&run)
    );

    let got = lines(&out);
    let files: Vec<&str> = got.iter().map(|l| l["file"].as_str().unwrap()).collect();
    let expected_order: Vec<String> = [
        "corrupt.png",
        "long.png",
        "sub/tall.PNG",
        "text.jpg",
        "wide.png",
        "notes.txt",
    ]
    .iter()
    .map(|f| path_in(dir.path(), f))
    .collect();
    assert_eq!(files, expected_order, "walk sorted, named file after");

    let map = by_file(&got);
    for rel in GOOD {
        let file = path_in(dir.path(), rel);
        let line = &map[&file];
        let gen_out = smolvlm(&[
            "generate",
            "--model",
            &model(),
            "--image",
            &file,
            "--prompt",
            PROMPT,
            "--max-new-tokens",
            "12",
            "--json",
        ]);
        assert!(gen_out.status.success(), "{}", stderr(&gen_out));
        let generated: Value = serde_json::from_slice(&gen_out.stdout).unwrap();
        assert_eq!(line["text"], generated["text"], "{rel}");
        assert_eq!(line["token_ids"], generated["token_ids"], "{rel}");
        assert_eq!(
            line["tokens"].as_u64().unwrap() as usize,
            generated["token_ids"].as_array().unwrap().len()
        );
        assert_eq!(line["image_tokens"], generated["image_tokens"], "{rel}");
        assert_eq!(line["prompt_tokens"], generated["prompt_tokens"], "{rel}");
        assert!(line["image_tokens"].as_u64().unwrap() > 0);
        assert!(line["timings"]["decode_s"].as_f64().unwrap() >= 0.0);
        assert!(line.get("error").is_none());
    }
    let code = |rel: &str| map[&path_in(dir.path(), rel)]["error"]["code"].clone();
    assert_eq!(code("corrupt.png"), "image_truncated");
    assert_eq!(code("text.jpg"), "image_unknown_format");
    assert_eq!(code("notes.txt"), "image_unknown_format");
    assert!(map[&path_in(dir.path(), "text.jpg")].get("text").is_none());

    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "file",
            "text",
            "tokens",
            "image_tokens",
            "error_code",
            "error_message"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), got.len());
    for (row, line) in rows.iter().zip(&got) {
        assert_eq!(&row[0], line["file"].as_str().unwrap());
        match line.get("error") {
            None => {
                assert_eq!(&row[1], line["text"].as_str().unwrap());
                assert_eq!(row[2], line["tokens"].to_string());
                assert_eq!(row[3], line["image_tokens"].to_string());
                assert_eq!((&row[4], &row[5]), ("", ""));
            }
            Some(e) => {
                assert_eq!((&row[1], &row[2]), ("", ""));
                assert_eq!(&row[4], e["code"].as_str().unwrap());
                assert_eq!(&row[5], e["message"].as_str().unwrap());
            }
        }
    }
}

/// Everything but the timings, which differ between runs.
fn without_timings(mut line: Value) -> Value {
    if let Some(obj) = line.as_object_mut() {
        obj.remove("timings");
    }
    line
}

#[test]
fn a_truncated_output_is_repaired_and_resumed_without_repeating_lines() {
    let dir = image_folder();
    let out = dir.path().join("results.jsonl");
    assert!(local_batch(dir.path(), &out, &[]).status.success());
    let full = std::fs::read_to_string(&out).unwrap();
    let full_lines: Vec<&str> = full.lines().collect();
    assert_eq!(full_lines.len(), 5);
    // A kill during the second line's write: its first half made it to disk.
    let cut = format!(
        "{}\n{}",
        full_lines[0],
        &full_lines[1][..full_lines[1].len() / 2]
    );
    std::fs::write(&out, &cut).unwrap();

    let rerun = local_batch(dir.path(), &out, &[]);
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    assert!(stderr(&rerun).contains("1 skipped"), "{}", stderr(&rerun));
    let resumed = std::fs::read_to_string(&out).unwrap();
    assert!(
        resumed.starts_with(&format!("{}\n", full_lines[0])),
        "{resumed}"
    );
    let again = lines(&out);
    by_file(&again);
    let before: Vec<Value> = lines_of(&full).into_iter().map(without_timings).collect();
    let after: Vec<Value> = again.into_iter().map(without_timings).collect();
    assert_eq!(after, before, "the same lines in the same order");

    // Nothing left: a third run answers nothing and changes nothing.
    let third = local_batch(dir.path(), &out, &[]);
    assert!(
        stderr(&third).contains("0 done, 5 skipped, 0 failed"),
        "{}",
        stderr(&third)
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), resumed);
}

fn lines_of(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Enough work that a signal lands mid-run: 24 copies of one image, 200 tokens each.
fn many_images() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = fixtures().join("tiny-smolvlm/img_wide_300x200.png");
    for i in 0..24 {
        std::fs::copy(&src, dir.path().join(format!("img{i:02}.png"))).unwrap();
    }
    dir
}

fn spawn_long_batch(dir: &Path, out: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_smolvlm"))
        .args(["batch", "--model", &model(), "--prompt", PROMPT])
        .args(["--max-new-tokens", "200", "--ignore-eos", "--out"])
        .arg(out)
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for_first_line(out: &Path, child: &mut std::process::Child) {
    let start = Instant::now();
    loop {
        let written = std::fs::read(out).unwrap_or_default();
        if written.contains(&b'\n') {
            return;
        }
        if child.try_wait().unwrap().is_some() || start.elapsed() > Duration::from_secs(120) {
            panic!("no line was written");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn finish_and_check(dir: &Path, out: &Path) {
    let d = dir.display().to_string();
    let o = out.display().to_string();
    let rerun = smolvlm(&[
        "batch",
        "--model",
        &model(),
        "--prompt",
        PROMPT,
        "--max-new-tokens",
        "200",
        "--ignore-eos",
        "--out",
        &o,
        &d,
    ]);
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    let all = lines(out);
    let map = by_file(&all);
    assert_eq!(map.len(), 24);
    for l in &all {
        assert_eq!(l["tokens"], 200, "{l}");
    }
}

#[test]
fn a_killed_run_leaves_output_the_next_run_completes() {
    let dir = many_images();
    let out = dir.path().join("out.jsonl");
    let mut child = spawn_long_batch(dir.path(), &out);
    wait_for_first_line(&out, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    finish_and_check(dir.path(), &out);
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_after_the_current_file_with_valid_output() {
    let dir = many_images();
    let out = dir.path().join("out.jsonl");
    let mut child = spawn_long_batch(dir.path(), &out);
    wait_for_first_line(&out, &mut child);
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.ends_with('\n'), "whole lines only");
    let n = lines(&out).len();
    if n < 24 {
        assert_eq!(status.code(), Some(130), "{err}");
        assert!(err.contains("not run (interrupted"), "{err}");
    }
    finish_and_check(dir.path(), &out);
}

/// A fake OpenAI server: `/v1/models` lists one loaded model; every chat completion answers with
/// the request's own text and the size of its image, so a line shows where it came from.
struct FakeServer {
    url: String,
    chats: Arc<Mutex<Vec<Value>>>,
}

fn fake_server() -> FakeServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let chats = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&chats);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || answer(stream, &seen));
        }
    });
    FakeServer { url, chats }
}

fn answer(stream: TcpStream, seen: &Mutex<Vec<Value>>) {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut len = 0;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let reply = if request_line.starts_with("GET /v1/models") {
        json!({"object": "list", "data": [
            {"id": "other", "object": "model", "created": 0, "owned_by": "t"},
            {"id": "served-model", "object": "model", "created": 0, "owned_by": "t", "loaded": true}
        ]})
    } else {
        let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let parts = &req["messages"][0]["content"];
        let url_len = parts[0]["image_url"]["url"].as_str().map_or(0, str::len);
        let text = format!(
            "remote says: {} ({url_len})",
            parts[1]["text"].as_str().unwrap_or("")
        );
        seen.lock().unwrap().push(req);
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "served-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 90, "completion_tokens": 4, "total_tokens": 94},
            "smolvlm": {"token_ids": [1, 2, 3, 4], "image_tokens": 64}
        })
    };
    let body = reply.to_string();
    let mut stream = &stream;
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn remote_batch(url: &str, dir: &Path, out: &Path, extra: &[&str]) -> Output {
    let d = dir.display().to_string();
    let o = out.display().to_string();
    let mut args = vec![
        "batch",
        "--endpoint",
        url,
        "--api-key",
        "sk-batch-secret",
        "--prompt",
        PROMPT,
        "--max-new-tokens",
        "7",
        "--out",
        &o,
        &d,
    ];
    args.extend_from_slice(extra);
    smolvlm(&args)
}

#[test]
fn an_endpoint_answers_each_image_sent_as_a_data_url() {
    let server = fake_server();
    let dir = image_folder();
    let out = dir.path().join("remote.jsonl");
    let run = remote_batch(&server.url, dir.path(), &out, &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    let map = by_file(&lines(&out));
    assert_eq!(map.len(), 5);
    for rel in GOOD {
        let file = path_in(dir.path(), rel);
        let size = std::fs::metadata(&file).unwrap().len() as usize;
        let data_url_len = "data:image/png;base64,".len() + size.div_ceil(3) * 4;
        let line = &map[&file];
        assert_eq!(
            line["text"],
            format!("remote says: {PROMPT} ({data_url_len})"),
            "{rel}"
        );
        assert_eq!(
            (line["tokens"].as_u64(), line["image_tokens"].as_u64()),
            (Some(4), Some(64))
        );
        assert_eq!(line["prompt_tokens"], 90);
        assert_eq!(line["stop_reason"], "eos");
    }
    // Bad files are found before sending, with the local engine's codes.
    assert_eq!(
        map[&path_in(dir.path(), "text.jpg")]["error"]["code"],
        "image_unknown_format"
    );
    assert_eq!(
        map[&path_in(dir.path(), "corrupt.png")]["error"]["code"],
        "image_truncated"
    );
    let chats = server.chats.lock().unwrap();
    assert_eq!(chats.len(), 3, "only the good images went out");
    for req in chats.iter() {
        assert_eq!(
            req["model"], "served-model",
            "the loaded one from /v1/models"
        );
        assert_eq!(req["max_tokens"], 7);
        assert_eq!(req["temperature"], 0.0);
        assert!(
            req["messages"][0]["content"][0]["image_url"]["url"]
                .as_str()
                .unwrap()
                .starts_with("data:image/png;base64,")
        );
    }
}

#[test]
fn a_refused_endpoint_records_connect_errors_per_file_and_retry_failed_reruns_them() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refused = format!("http://127.0.0.1:{port}/v1");
    let dir = image_folder();
    let out = dir.path().join("remote.jsonl");
    let run = remote_batch(&refused, dir.path(), &out, &["--remote-model", "m"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(!stderr(&run).contains("sk-batch-secret"));
    let got = lines(&out);
    assert_eq!(got.len(), 5);
    for l in &got {
        let code = l["error"]["code"].as_str().unwrap();
        let file = l["file"].as_str().unwrap();
        if file.ends_with("text.jpg") || file.ends_with("corrupt.png") {
            assert!(code.starts_with("image_"), "{l}");
        } else {
            assert_eq!(code, "connect", "{l}");
            assert!(
                l["error"]["message"].as_str().unwrap().contains(&refused),
                "{l}"
            );
        }
    }

    let server = fake_server();
    let retry = remote_batch(&server.url, dir.path(), &out, &["--retry-failed"]);
    assert!(retry.status.success(), "{}", stderr(&retry));
    let map = by_file(&lines(&out));
    assert_eq!(map.len(), 5);
    for rel in GOOD {
        assert!(
            map[&path_in(dir.path(), rel)]["text"]
                .as_str()
                .unwrap()
                .starts_with("remote says:")
        );
    }
}

#[test]
fn flags_for_the_local_model_or_neither_model_are_refused() {
    let dir = image_folder();
    let d = dir.path().display().to_string();
    for args in [
        vec!["batch", "--prompt", "x", &d],
        vec![
            "batch",
            "--endpoint",
            "http://127.0.0.1:9",
            "--longest-edge",
            "512",
            "--prompt",
            "x",
            &d,
        ],
        vec![
            "batch",
            "--endpoint",
            "http://127.0.0.1:9",
            "--model",
            "m",
            "--prompt",
            "x",
            &d,
        ],
    ] {
        let out = smolvlm(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("error"), "{}", stderr(&out));
    }
}
