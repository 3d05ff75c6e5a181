// Shared helpers for the integration tests (included with `mod common;`).
#![allow(dead_code)]

use std::path::PathBuf;

use smolvlm_text::{ContentPart, ImageSource, Message, Role};

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-smolvlm")
}

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn read_json(path: PathBuf) -> serde_json::Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// transformers-style messages (content a list of image/text parts) as crate messages; `None` when some
/// message uses anything else (string content, video parts).
pub fn messages_from_json(v: &serde_json::Value) -> Option<Vec<Message>> {
    let mut out = Vec::new();
    for m in v.as_array()? {
        let role = match m["role"].as_str()? {
            "system" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            _ => return None,
        };
        let mut content = Vec::new();
        for part in m["content"].as_array()? {
            match part["type"].as_str()? {
                "image" => content.push(ContentPart::Image(ImageSource::Path("image.png".into()))),
                "text" => content.push(ContentPart::Text(part["text"].as_str()?.to_string())),
                _ => return None,
            }
        }
        out.push(Message { role, content });
    }
    Some(out)
}

pub fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}
