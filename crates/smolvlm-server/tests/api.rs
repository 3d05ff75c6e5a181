//! The OpenAI contract on the tiny fixture: whole and streamed answers reproduce the golden's
//! greedy tokens, usage counts image tokens, stop strings cut the answer, a follow-up reuses the
//! cache, and `model` picks among the loaded and installed models.

mod common;

use common::*;
use serde_json::{Value, json};

fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

fn first_question() -> Value {
    json!({
        "model": "tiny",
        "messages": [image_question(&data_url("img_wide_300x200.png"), "What is in this image?")],
        "max_tokens": 24,
        "temperature": 0,
    })
}

#[test]
fn a_whole_answer_reproduces_the_golden_and_counts_its_usage() {
    let s = start();
    let golden = golden_case(1);
    let r = post(&s, &first_question());
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "tiny");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    let choice = &v["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], golden["generated_text"]);
    assert_eq!(choice["finish_reason"], "length");
    assert_eq!(
        ids(&v["smolvlm"]["token_ids"]),
        ids(&golden["generated_ids"])
    );
    assert_eq!(v["smolvlm"]["image_tokens"], golden["n_image_tokens"]);
    let usage = &v["usage"];
    assert_eq!(usage["prompt_tokens"], golden["n_prompt_tokens"]);
    assert_eq!(usage["completion_tokens"], 24);
    assert_eq!(
        usage["total_tokens"],
        golden["n_prompt_tokens"].as_u64().unwrap() + 24
    );
}

#[test]
fn a_streamed_answer_is_openai_shaped_and_carries_the_same_tokens() {
    let s = start();
    let golden = golden_case(1);
    let mut body = first_question();
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let sse = Sse::open(&s, &body).unwrap();
    assert_eq!(sse.status, 200);
    assert!(
        sse.content_type
            .as_deref()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = sse.all();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert!(chunks.iter().all(|c| c["id"] == chunks[0]["id"]));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let (usage_chunk, rest) = chunks.split_last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(
        usage_chunk["usage"]["prompt_tokens"],
        golden["n_prompt_tokens"]
    );
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 24);
    assert!(rest.iter().all(|c| c["usage"].is_null()));
    let (last, deltas) = rest.split_last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "length");
    assert!(
        deltas
            .iter()
            .all(|c| c["choices"][0]["finish_reason"].is_null())
    );
    let text: String = deltas
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, golden["generated_text"].as_str().unwrap());
    let streamed: Vec<u64> = rest
        .iter()
        .filter_map(|c| c["smolvlm"]["token_ids"].as_array())
        .flat_map(|a| a.iter().map(|x| x.as_u64().unwrap()))
        .collect();
    assert_eq!(streamed, ids(&golden["generated_ids"]));
}

#[test]
fn a_stream_without_include_usage_has_no_usage() {
    let s = start();
    let mut body = first_question();
    body["stream"] = json!(true);
    body["max_tokens"] = json!(3);
    let events = Sse::open(&s, &body).unwrap().all();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    for e in &events[..events.len() - 1] {
        let c: Value = serde_json::from_str(e).unwrap();
        assert!(c.get("usage").is_none(), "{c}");
        assert_eq!(c["choices"].as_array().unwrap().len(), 1);
    }
}

#[test]
fn a_follow_up_about_the_same_image_reuses_the_cache() {
    let s = start();
    let first = post(&s, &first_question()).json();
    assert_eq!(first["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    let answer = first["choices"][0]["message"]["content"].as_str().unwrap();
    // The same picture, now by path: the cache keys images by their pixels, not their names.
    let path = fixture().join("img_wide_300x200.png");
    let follow_up = json!({
        "model": "tiny",
        "messages": [
            image_question(&format!("file://{}", path.display()), "What is in this image?"),
            {"role": "assistant", "content": answer},
            {"role": "user", "content": "And what colour is it?"},
        ],
        "max_tokens": 4,
        "temperature": 0,
    });
    let v = post(&s, &follow_up).json();
    let cached = v["usage"]["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    let prompt = first["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(
        cached >= prompt - 1,
        "cached {cached} of the first prompt's {prompt}: {v}"
    );
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > prompt);
}

#[test]
fn images_in_two_turns_are_all_counted() {
    let s = start();
    let body = json!({
        "model": "tiny",
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            image_question(&data_url("img_wide_300x200.png"), "What is this?"),
            {"role": "assistant", "content": "A picture."},
            {"role": "user", "content": [
                {"type": "text", "text": "And this one?"},
                {"type": "image_url", "image_url": {"url": fixture().join("img_tall_96x300.png").display().to_string()}},
            ]},
        ],
        "max_tokens": 3,
        "temperature": 0,
    });
    let r = post(&s, &body);
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    // 13 frames for the wide image and 9 for the tall one, 4 tokens each (golden cases 1, 2).
    assert_eq!(v["smolvlm"]["image_tokens"], (13 + 9) * 4);
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > (13 + 9) * 4);
    assert_eq!(v["usage"]["completion_tokens"], 3);
}

#[test]
fn a_stop_string_ends_the_answer_before_it() {
    let s = start();
    let golden = golden_case(1);
    let text = golden["generated_text"].as_str().unwrap();
    let cut = text.find("Grain").unwrap();
    let mut body = first_question();
    body["stop"] = json!(["Grain", "never appears"]);
    let v = post(&s, &body).json();
    assert_eq!(v["choices"][0]["message"]["content"], &text[..cut]);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() < 24);

    body["stream"] = json!(true);
    let events = Sse::open(&s, &body).unwrap().all();
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let streamed: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(streamed, &text[..cut]);
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
}

#[test]
fn models_lists_the_loaded_one_and_the_installed_ones() {
    let s = start();
    let v = get(&format!("{}/v1/models", s.base)).json();
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().unwrap();
    let ids: Vec<(&str, bool)> = data
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["loaded"].as_bool().unwrap()))
        .collect();
    assert_eq!(ids, [("tiny", true), ("tiny-q8", false)]);
    assert!(
        data.iter()
            .all(|m| m["object"] == "model" && m["owned_by"] == "smolvlm")
    );
    let one = get(&format!("{}/v1/models/tiny-q8", s.base));
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["id"], "tiny-q8");
    get(&format!("{}/v1/models/nope", s.base)).error(404, "not_found_error", "model_not_found");
}

#[test]
fn a_request_naming_an_installed_model_loads_it() {
    let s = serve(
        Options {
            load: false,
            ..Options::default()
        },
        |_| {},
    );
    let mut body = first_question();
    body["model"] = json!("");
    let e = post(&s, &body).error(400, "invalid_request_error", "no_model_loaded");
    assert_eq!(e["param"], "model");
    body["model"] = json!("tiny-q8");
    body["max_tokens"] = json!(2);
    let r = post(&s, &body);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["model"], "tiny-q8");
    assert!(
        r.json()["smolvlm"]["image_tokens"].as_u64().unwrap() > 0,
        "the projector came along"
    );
    let v = get(&format!("{}/v1/models", s.base)).json();
    let loaded: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["loaded"] == true)
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(loaded, ["tiny-q8"]);
    // Absent now means the loaded one.
    body.as_object_mut().unwrap().remove("model");
    let r = post(&s, &body);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["model"], "tiny-q8");
}

#[test]
fn health_answers_without_a_key() {
    let s = serve(Options::default(), |c| c.api_key = Some("k".into()));
    let v = get(&format!("{}/health", s.base)).json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["model"], "tiny-smolvlm");
}
