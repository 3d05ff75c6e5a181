//! Fixture folders and golden cases, as every parity test reads them.

use std::path::{Path, PathBuf};

use serde_json::Value;
use smolvlm::{ContentPart, ImageSource, Message, Role};

/// A folder under the repository's tests/fixtures/.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// A fixture's golden.json.
pub fn golden(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("golden.json")).unwrap()).unwrap()
}

pub fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

pub fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// A golden case's HF-style messages, its image files (relative to `dir`) in order of appearance.
pub fn case_messages(dir: &Path, case: &Value) -> Vec<Message> {
    let mut images = case["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| dir.join(f.as_str().unwrap()));
    case["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let role = match m["role"].as_str().unwrap() {
                "system" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                other => panic!("role {other}"),
            };
            let content = m["content"]
                .as_array()
                .unwrap()
                .iter()
                .map(|part| match part["type"].as_str().unwrap() {
                    "image" => ContentPart::Image(ImageSource::Path(images.next().unwrap())),
                    "text" => ContentPart::Text(part["text"].as_str().unwrap().to_string()),
                    other => panic!("part {other}"),
                })
                .collect();
            Message { role, content }
        })
        .collect()
}
