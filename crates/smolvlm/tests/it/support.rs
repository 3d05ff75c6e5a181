//! Fixture folders and golden cases, as every parity test reads them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde_json::Value;
use smolvlm::{ContentPart, ImageSource, Message, Role, SmolVlmModel};

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

/// A fixture's golden.safetensors (transformers' tensors by case).
pub fn golden_tensors(dir: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(dir.join("golden.safetensors"), &Device::Cpu).unwrap()
}

/// Max |a − b|, printed (with --nocapture: the measured distance, not just the bound).
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    // A GPU model's tensors are compared on the CPU, where the goldens are.
    let (a, b) = (
        a.to_device(&Device::Cpu).unwrap(),
        b.to_device(&Device::Cpu).unwrap(),
    );
    let d = (&a - &b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    eprintln!("max |diff| over {:?}: {d:.3e}", a.dims());
    d
}

/// The logits after the prompt `ids` (image features spliced in), from an empty cache: (vocab).
pub fn step0_logits(model: &mut SmolVlmModel, ids: &[u32], features: Option<&Tensor>) -> Tensor {
    let net = model.network();
    let embeds = net.prompt_embeddings(ids, features).unwrap();
    net.text().clear_cache();
    net.text()
        .forward_embeds(&embeds)
        .unwrap()
        .squeeze(0)
        .unwrap()
}

/// Max |step-0 logits − transformers'| on the first golden case of `dir` with images: the prompt,
/// vision tower, connector and decoder of `model`, no sampling.
pub fn step0_logit_error(model: &mut SmolVlmModel, dir: &Path) -> f32 {
    let case = golden(dir)["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| !c["images"].as_array().unwrap().is_empty())
        .cloned()
        .unwrap();
    let id = case["id"].as_u64().unwrap();
    let prompt = model.prepare(&case_messages(dir, &case), None).unwrap();
    let t = prompt.tile;
    let device = model.device().clone();
    let pixels =
        Tensor::from_slice(&prompt.pixel_values, (prompt.frames, 3, t, t), &device).unwrap();
    let features = model.network().encode_frames(&pixels).unwrap();
    let (f, k, h) = features.dims3().unwrap();
    let features = features.reshape((f * k, h)).unwrap();
    let logits = step0_logits(model, &prompt.ids, Some(&features));
    max_abs_diff(
        &logits,
        &golden_tensors(dir)[&format!("case{id}.logits_step0")],
    )
}
