//! Requests queue for the one worker: past its capacity they are told 429, and a request whose
//! client goes away (mid-stream, or while waiting for a whole answer) frees the worker at once.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use smolvlm_server::ServerError;

/// Far below the ~10 s the long request needs on a free core.
const PROMPTLY: Duration = Duration::from_secs(3);

fn short() -> serde_json::Value {
    json!({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "temperature": 0})
}

/// Opens the long stream and reads its role chunk and first text: the job is running.
fn running_stream(s: &TestServer) -> Sse {
    let mut sse = Sse::open(s, &long_request(true)).unwrap();
    sse.next_data().unwrap();
    sse.next_data().unwrap();
    assert_eq!(s.worker.queued(), 1);
    sse
}

#[test]
fn a_client_leaving_mid_stream_frees_the_worker() {
    let s = start();
    let sse = running_stream(&s);
    drop(sse);
    let freed = wait_until(PROMPTLY, || s.worker.queued() == 0);
    assert!(freed.is_some(), "the job was not cancelled");
    let started = Instant::now();
    assert_eq!(post(&s, &short()).status, 200);
    assert!(
        started.elapsed() < PROMPTLY,
        "the next answer took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_client_leaving_before_a_whole_answer_frees_the_worker() {
    let s = start();
    let body = long_request(false).to_string();
    let mut c = TcpStream::connect(s.handle.local_addr()).unwrap();
    write!(
        c,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    assert!(wait_until(PROMPTLY, || s.worker.status().job_id.is_some()).is_some());
    drop(c);
    let freed = wait_until(PROMPTLY, || s.worker.queued() == 0);
    assert!(freed.is_some(), "the job was not cancelled");
}

#[test]
fn past_the_queue_s_capacity_requests_are_told_to_retry() {
    let s = serve(
        Options {
            capacity: 1,
            ..Options::default()
        },
        |_| {},
    );
    let sse = running_stream(&s);
    let r = post(&s, &short());
    let e = r.error(429, "rate_limit_error", "queue_full");
    assert!(e["message"].as_str().unwrap().contains('1'));
    assert_eq!(r.retry_after.as_deref(), Some("1"));
    drop(sse);
    assert!(wait_until(PROMPTLY, || s.worker.queued() == 0).is_some());
    assert_eq!(post(&s, &short()).status, 200);
}

#[test]
fn sixteen_clients_at_once_are_all_answered_or_told_to_retry() {
    let s = start();
    let url = format!("{}/v1/chat/completions", s.base);
    let threads: Vec<_> = (0..20)
        .map(|i| {
            let url = url.clone();
            let mut body = short();
            body["stream"] = json!(i % 2 == 0);
            std::thread::spawn(move || post_raw(&url, &body.to_string(), None))
        })
        .collect();
    let replies: Vec<Reply> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let ok = replies.iter().filter(|r| r.status == 200).count();
    for r in &replies {
        match r.status {
            200 => {}
            429 => {
                r.error(429, "rate_limit_error", "queue_full");
            }
            other => panic!("{other}: {}", r.text),
        }
    }
    assert!(ok >= 16, "only {ok} of 20 answered with a queue of 16");
    assert_eq!(s.worker.queued(), 0);
}

#[test]
fn shutdown_ends_streams_in_flight_and_frees_the_port() {
    let s = start();
    let addr = s.handle.local_addr();
    let sse = running_stream(&s);
    let started = Instant::now();
    let TestServer { handle, worker, .. } = s;
    let reader = std::thread::spawn(move || sse.all());
    handle.shutdown();
    assert!(
        started.elapsed() < PROMPTLY,
        "shutdown took {:?}",
        started.elapsed()
    );
    let rest = reader.join().unwrap();
    assert_eq!(rest.last().map(String::as_str), Some("[DONE]"), "{rest:?}");
    assert!(wait_until(PROMPTLY, || worker.queued() == 0).is_some());
    // The port is free again, and a taken one is a typed error.
    let again = smolvlm_server::start(
        smolvlm_server::ServerConfig {
            addr,
            ..Default::default()
        },
        worker.clone(),
        std::sync::Arc::new(catalog()),
    )
    .unwrap();
    let taken = smolvlm_server::start(
        smolvlm_server::ServerConfig {
            addr,
            ..Default::default()
        },
        worker,
        std::sync::Arc::new(catalog()),
    );
    assert!(matches!(taken, Err(ServerError::AddrInUse { .. })));
    drop(again);
    let mut buf = [0u8; 1];
    assert!(
        TcpStream::connect(addr)
            .map(|mut c| c.read(&mut buf).unwrap_or(0) == 0)
            .unwrap_or(true),
        "nothing answers once the handle is dropped"
    );
}
