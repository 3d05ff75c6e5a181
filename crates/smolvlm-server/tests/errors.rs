//! Every refusal is an OpenAI error object with the right status, and names the field at fault;
//! no body, however broken, takes the server down.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::*;
use serde_json::json;

fn ask(content: serde_json::Value) -> serde_json::Value {
    json!({"model": "tiny", "messages": [{"role": "user", "content": content}], "max_tokens": 2})
}

/// A PNG wider than the decoder's limit (16384 pixels per side).
fn too_wide_png() -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, 20_000, 1);
    enc.set_color(png::ColorType::Grayscale);
    let mut w = enc.write_header().unwrap();
    w.write_image_data(&vec![0u8; 20_000]).unwrap();
    w.finish().unwrap();
    out
}

#[test]
fn malformed_requests_are_400_invalid_request_errors() {
    let s = start();
    let url = format!("{}/v1/chat/completions", s.base);
    post_raw(&url, "{not json", None).error(400, "invalid_request_error", "invalid_json");
    post_raw(&url, r#"{"messages": "hello"}"#, None).error(
        400,
        "invalid_request_error",
        "invalid_request",
    );
    post_raw(&url, "", None).error(400, "invalid_request_error", "invalid_json");
    let e = post(
        &s,
        &json!({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "n": 2}),
    )
    .error(400, "invalid_request_error", "invalid_value");
    assert_eq!(e["param"], "n");
    let e = post(&s, &json!({"model": "tiny", "messages": []})).error(
        400,
        "invalid_request_error",
        "invalid_value",
    );
    assert_eq!(e["param"], "messages");
}

#[test]
fn an_unknown_model_is_404() {
    let s = start();
    let mut body = ask(json!("hi"));
    body["model"] = json!("gpt-4o");
    let e = post(&s, &body).error(404, "not_found_error", "model_not_found");
    assert_eq!(e["param"], "model");
}

#[test]
fn bad_images_name_their_place_in_the_request() {
    let s = start();
    let not_an_image = data_url_of(b"this is not an image at all");
    let e = post(
        &s,
        &ask(json!([
            {"type": "text", "text": "what?"},
            {"type": "image_url", "image_url": {"url": not_an_image}},
        ])),
    )
    .error(400, "invalid_request_error", "image_unknown_format");
    assert_eq!(e["param"], "messages[0].content[1]");

    let body = json!({"model": "tiny", "max_tokens": 2, "messages": [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_url_of(&too_wide_png())}}]},
    ]});
    let e = post(&s, &body).error(400, "invalid_request_error", "image_too_large");
    assert_eq!(e["param"], "messages[2].content[0]");

    let e = post(
        &s,
        &ask(json!([{"type": "image_url", "image_url": {"url": "data:image/png;base64,%%%"}}])),
    )
    .error(400, "invalid_request_error", "invalid_image_url");
    assert_eq!(e["param"], "messages[0].content[0]");
    let e = post(
        &s,
        &ask(json!([{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}])),
    )
    .error(400, "invalid_request_error", "remote_images_disabled");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("remote image URLs are off")
    );
    post(
        &s,
        &ask(json!([{"type": "image_url", "image_url": {"url": "img_wide_300x200.png"}}])),
    )
    .error(400, "invalid_request_error", "invalid_image_url");
    post(
        &s,
        &ask(json!([{"type": "image_url", "image_url": {"url": "file:///no/such/file.png"}}])),
    )
    .error(400, "invalid_request_error", "image_unreadable");
}

#[test]
fn a_prompt_past_the_context_is_context_length_exceeded() {
    let s = start();
    // The tiny model's context is 8192 positions.
    let long = "word ".repeat(9000);
    let e =
        post(&s, &ask(json!(long))).error(400, "invalid_request_error", "context_length_exceeded");
    assert_eq!(e["param"], "messages");
    // Streamed requests are refused the same way, before the stream starts.
    let mut body = ask(json!(long));
    body["stream"] = json!(true);
    let r = Sse::open(&s, &body)
        .err()
        .expect("an HTTP error, not a stream");
    r.error(400, "invalid_request_error", "context_length_exceeded");
}

#[test]
fn a_wrong_or_missing_key_is_401() {
    let s = serve(Options::default(), |c| c.api_key = Some("sesame".into()));
    let url = format!("{}/v1/chat/completions", s.base);
    let body = ask(json!("hi")).to_string();
    post_raw(&url, &body, None).error(401, "authentication_error", "invalid_api_key");
    post_raw(&url, &body, Some("wrong")).error(401, "authentication_error", "invalid_api_key");
    assert_eq!(post_raw(&url, &body, Some("sesame")).status, 200);
    assert_eq!(get(&format!("{}/v1/models", s.base)).status, 401);
}

#[test]
fn a_body_past_the_limit_is_413() {
    let s = serve(Options::default(), |c| c.max_body_bytes = 4096);
    let big = ask(json!("x".repeat(10_000)));
    post(&s, &big).error(413, "invalid_request_error", "request_too_large");
    assert_eq!(post(&s, &ask(json!("hi"))).status, 200);
}

#[test]
fn unknown_routes_and_methods_answer_json() {
    let s = start();
    get(&format!("{}/v1/nothing", s.base)).error(404, "not_found_error", "unknown_url");
    get(&format!("{}/v1/chat/completions", s.base)).error(
        405,
        "invalid_request_error",
        "method_not_allowed",
    );
    request("DELETE", &format!("{}/v1/models", s.base)).error(
        405,
        "invalid_request_error",
        "method_not_allowed",
    );
}

#[test]
fn garbage_never_takes_the_server_down() {
    let s = start();
    let url = format!("{}/v1/chat/completions", s.base);
    let bodies = [
        "null",
        "[]",
        "0",
        "\"x\"",
        "{}",
        "{\"messages\": null}",
        "{\"messages\": [null]}",
        "{\"messages\": [{}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \"data:\"}}]}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \"data:image/png;base64,\"}}]}], \"max_tokens\": 1}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": -1}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": \"hot\"}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": 1e400}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"<image>\"}], \"max_tokens\": 1}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"stop\": [1]}",
        "\u{0}\u{1}\u{2}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"\u{fffd}\"}], \"max_tokens\": 1, \"seed\": 99999999999999999999}",
    ];
    for body in bodies {
        let r = post_raw(&url, body, None);
        assert!(
            (400..500).contains(&r.status) || r.status == 200,
            "{body}: {} {}",
            r.status,
            r.text
        );
        if r.status != 200 {
            let v = r.json();
            assert!(v["error"]["message"].is_string(), "{body}: {v}");
        }
    }
    // Invalid UTF-8 and a lying Content-Length, by hand.
    for raw in [
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n\xff\xfe\xfd\xfc".as_slice(),
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}".as_slice(),
        b"GARBAGE\r\n\r\n".as_slice(),
    ] {
        let mut c = TcpStream::connect(s.handle.local_addr()).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
        c.write_all(raw).unwrap();
        let _ = c.shutdown(std::net::Shutdown::Write);
        let mut buf = Vec::new();
        let _ = c.read_to_end(&mut buf);
    }
    assert!(s.handle.is_running());
    assert_eq!(post(&s, &ask(json!("still there?"))).status, 200);
}
