//! The client against a fake OpenAI-compatible server: one scripted reply per connection, written
//! in pieces with pauses (so streams arrive chunk by chunk and can break mid-way).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use smolvlm_cancel::CancelToken;
use smolvlm_openai::client::image_data_url;
use smolvlm_openai::{
    ChatCompletionChunk, ChatCompletionRequest, ChatMessage, Client, ClientError, ContentPart,
    Endpoint, FinishReason, Role, Timeouts,
};

const KEY: &str = "sk-test-very-secret";

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the client sends JSON")
    }
}

/// Bytes to write, then how long to wait before the next piece.
type Reply = Vec<(Vec<u8>, Duration)>;

struct Fake {
    base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Fake {
    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(replies: Vec<Reply>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    thread::spawn(move || {
        for reply in replies {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            if let Some(req) = read_request(&stream) {
                seen.lock().unwrap().push(req);
            }
            let mut stream = stream;
            for (bytes, pause) in reply {
                if stream.write_all(&bytes).is_err() {
                    break;
                }
                let _ = stream.flush();
                thread::sleep(pause);
            }
            // Dropping the stream closes it: the reply ends here, finished or not.
        }
    });
    Fake { base, requests }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn json_reply(status: &str, body: &str) -> Reply {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    vec![([head.as_bytes(), body.as_bytes()].concat(), Duration::ZERO)]
}

/// An event stream without a length: it ends when the connection closes.
fn sse_reply(pieces: &[&str], pause: Duration) -> Reply {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
    let mut reply = vec![(head.as_bytes().to_vec(), Duration::ZERO)];
    reply.extend(pieces.iter().map(|p| (p.as_bytes().to_vec(), pause)));
    reply
}

fn client(base: &str) -> Client {
    Client::with_timeouts(
        Endpoint {
            base_url: base.to_string(),
            api_key: Some(KEY.into()),
            model: "remote-model".into(),
        },
        Timeouts {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(20),
        },
    )
}

fn request() -> ChatCompletionRequest {
    ChatCompletionRequest {
        messages: vec![ChatMessage::parts(
            Role::User,
            vec![
                ContentPart::image_url(image_data_url(b"\x89PNG\r\n\x1a\nxyz").unwrap()),
                ContentPart::text("What is this?"),
            ],
        )],
        max_tokens: Some(8),
        ..Default::default()
    }
}

fn chunk_json(content: &str, finish: Option<&str>) -> String {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]
    })
    .to_string()
}

fn texts(chunks: &[ChatCompletionChunk]) -> Vec<String> {
    chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|c| c.delta.content.clone())
        .collect()
}

fn assert_no_key(e: &ClientError) {
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(KEY), "the key leaked: {shown}");
}

#[test]
fn chat_sends_model_key_and_image_and_parses_the_completion() {
    let answer = json!({
        "id": "chatcmpl-9", "object": "chat.completion", "created": 7, "model": "remote-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "A cat."},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 80, "completion_tokens": 3, "total_tokens": 83},
        "smolvlm": {"token_ids": [5, 6, 7], "image_tokens": 64}
    });
    let fake = serve(vec![json_reply("200 OK", &answer.to_string())]);
    let mut req = request();
    req.stream = true; // `chat` never streams, whatever the request says
    let got = client(&fake.base).chat(&req).unwrap();
    assert_eq!(got.choices[0].message.content.as_deref(), Some("A cat."));
    assert_eq!(got.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(got.usage.unwrap().completion_tokens, 3);
    let extra = got.smolvlm.unwrap();
    assert_eq!(
        (extra.token_ids, extra.image_tokens),
        (vec![5, 6, 7], Some(64))
    );

    let sent = &fake.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = sent.json();
    assert_eq!(body["model"], "remote-model");
    assert_eq!(body["stream"], false);
    assert_eq!(body["max_tokens"], 8);
    let parts = &body["messages"][0]["content"];
    assert_eq!(parts[0]["type"], "image_url");
    assert_eq!(
        parts[0]["image_url"]["url"],
        "data:image/png;base64,iVBORw0KGgp4eXo="
    );
    assert_eq!(parts[1]["text"], "What is this?");
}

#[test]
fn an_error_object_with_429_is_an_http_error_that_keeps_it_and_hides_the_key() {
    let body = json!({"error": {"message": "slow down", "type": "rate_limit_error",
                                "param": null, "code": "rate_limited"}});
    let fake = serve(vec![json_reply("429 Too Many Requests", &body.to_string())]);
    let e = client(&fake.base).chat(&request()).unwrap_err();
    assert_eq!(e.code(), "http");
    let ClientError::Http { status, error, .. } = &e else {
        panic!("{e:?}");
    };
    assert_eq!(*status, 429);
    let obj = error.as_ref().unwrap();
    assert_eq!(
        (obj.kind.as_str(), obj.code.as_deref()),
        ("rate_limit_error", Some("rate_limited"))
    );
    let msg = e.to_string();
    assert!(msg.contains("429") && msg.contains("slow down"), "{msg}");
    assert!(msg.contains(&fake.base), "names the URL: {msg}");
    assert_no_key(&e);
}

#[test]
fn a_plain_error_body_is_quoted_and_a_non_completion_is_a_protocol_error() {
    let fake = serve(vec![
        json_reply("502 Bad Gateway", "upstream is down"),
        json_reply("200 OK", "<html>not json</html>"),
        json_reply("200 OK", r#"{"id": "x", "choices": "nope"}"#),
        json_reply("200 OK", r#"{"object": "list", "data": [{"id": 3}]}"#),
    ]);
    let c = client(&fake.base);
    let e = c.chat(&request()).unwrap_err();
    assert!(
        matches!(
            &e,
            ClientError::Http {
                status: 502,
                error: None,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("upstream is down"), "{e}");
    for _ in 0..2 {
        let e = c.chat(&request()).unwrap_err();
        assert_eq!(e.code(), "protocol", "{e:?}");
        assert_no_key(&e);
    }
    assert_eq!(c.models().unwrap_err().code(), "protocol");
}

#[test]
fn models_lists_what_the_server_has() {
    let body = json!({"object": "list", "data": [
        {"id": "a", "object": "model", "created": 1, "owned_by": "me", "loaded": true},
        {"id": "b", "object": "model", "created": 2, "owned_by": "me"}
    ]});
    let fake = serve(vec![json_reply("200 OK", &body.to_string())]);
    // A base URL that already ends in /v1/ is used as it is.
    let list = client(&format!("{}/v1/", fake.base)).models().unwrap();
    let ids: Vec<_> = list
        .data
        .iter()
        .map(|m| (m.id.as_str(), m.loaded))
        .collect();
    assert_eq!(ids, vec![("a", true), ("b", false)]);
    let sent = &fake.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("GET", "/v1/models")
    );
}

#[test]
fn a_stream_skips_comments_joins_multi_line_data_and_ends_at_done() {
    let first = chunk_json("Hel", None);
    // One JSON object over two data lines: the lines join with a newline, which JSON allows.
    let (a, b) = first.split_at(first.find("\"choices\"").unwrap());
    let two_lines = format!("data: {a}\ndata: {b}\n\n");
    let second = format!("data: {}\r\n\r\n", chunk_json("lo", None));
    let last = format!("data: {}\n\n", chunk_json("!", Some("stop")));
    let fake = serve(vec![sse_reply(
        &[
            ": keep-alive\n\n",
            &two_lines,
            ":\n\n",
            &second,
            "event: ignored\n\n",
            &last,
            "data: [DONE]\n\n",
            "data: this is never read\n\n",
        ],
        Duration::from_millis(5),
    )]);
    let mut chunks = Vec::new();
    client(&fake.base)
        .chat_stream(&request(), &CancelToken::new(), |c| chunks.push(c))
        .unwrap();
    assert_eq!(texts(&chunks), ["Hel", "lo", "!"]);
    assert_eq!(chunks[2].choices[0].finish_reason, Some(FinishReason::Stop));
    let body = fake.requests()[0].json();
    assert_eq!(body["stream"], true);
}

#[test]
fn a_stream_closed_mid_answer_is_a_connect_error_after_the_chunks_it_got() {
    let one = format!("data: {}\n\n", chunk_json("partial", None));
    let fake = serve(vec![sse_reply(
        &[&one, "data: {\"id\": \"chat"],
        Duration::ZERO,
    )]);
    let mut chunks = Vec::new();
    let e = client(&fake.base)
        .chat_stream(&request(), &CancelToken::new(), |c| chunks.push(c))
        .unwrap_err();
    assert_eq!(texts(&chunks), ["partial"]);
    // The half chunk it ended on is not JSON: that is what the stream said last.
    assert!(matches!(e.code(), "protocol" | "connect"), "{e:?}");

    let fake = serve(vec![sse_reply(&[&one], Duration::ZERO)]);
    let e = client(&fake.base)
        .chat_stream(&request(), &CancelToken::new(), |_| {})
        .unwrap_err();
    assert_eq!(e.code(), "connect", "{e:?}");
    assert!(e.to_string().contains("closed mid-answer"), "{e}");
}

#[test]
fn a_stream_that_finished_without_done_is_complete() {
    let last = format!("data: {}\n\n", chunk_json("end", Some("length")));
    let fake = serve(vec![sse_reply(&[&last], Duration::ZERO)]);
    let mut n = 0;
    client(&fake.base)
        .chat_stream(&request(), &CancelToken::new(), |_| n += 1)
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn an_error_event_in_a_stream_or_a_json_answer_to_a_stream_is_an_http_error() {
    let err = json!({"error": {"message": "out of memory", "type": "server_error"}}).to_string();
    let event = format!("data: {}\n\ndata: {err}\n\n", chunk_json("a", None));
    let fake = serve(vec![
        sse_reply(&[&event], Duration::ZERO),
        json_reply("200 OK", &err),
    ]);
    let c = client(&fake.base);
    for _ in 0..2 {
        let e = c
            .chat_stream(&request(), &CancelToken::new(), |_| {})
            .unwrap_err();
        assert_eq!(e.code(), "http", "{e:?}");
        assert_eq!(e.error_object().unwrap().message, "out of memory");
    }
}

#[test]
fn cancel_stops_reading_between_chunks() {
    let one = format!("data: {}\n\n", chunk_json("a", None));
    // The server would take ten seconds for its next chunk.
    let fake = serve(vec![sse_reply(
        &[&one, &one, "data: [DONE]\n\n"],
        Duration::from_secs(10),
    )]);
    let cancel = CancelToken::new();
    let mut n = 0;
    let start = Instant::now();
    let e = client(&fake.base)
        .chat_stream(&request(), &cancel, |_| {
            n += 1;
            cancel.cancel();
        })
        .unwrap_err();
    assert!(matches!(e, ClientError::Cancelled), "{e:?}");
    assert_eq!(e.code(), "cancelled");
    assert_eq!(n, 1);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    // Cancelled before it starts: nothing is sent at all.
    let e = client("http://127.0.0.1:9")
        .chat_stream(&request(), &cancel, |_| {})
        .unwrap_err();
    assert!(matches!(e, ClientError::Cancelled), "{e:?}");
}

#[test]
fn a_refused_port_is_a_connect_error_naming_the_url() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = client(&format!("http://127.0.0.1:{port}"));
    let errors = [
        c.chat(&request()).unwrap_err(),
        c.models().unwrap_err(),
        c.chat_stream(&request(), &CancelToken::new(), |_| {})
            .unwrap_err(),
    ];
    for e in errors {
        assert_eq!(e.code(), "connect", "{e:?}");
        assert!(
            e.to_string().contains(&format!("127.0.0.1:{port}/v1/")),
            "{e}"
        );
        assert_no_key(&e);
    }
}

#[test]
fn a_url_that_is_not_one_is_named_as_such() {
    let e = client("ftp://example.invalid").models().unwrap_err();
    assert_eq!(e.code(), "invalid_url", "{e:?}");
}
