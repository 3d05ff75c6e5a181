//! Parity with transformers 5.24 on the committed tiny SmolVLM fixtures (tests/fixtures/*, made
//! by scripts/fixtures/make_tiny_models.py and the shared reference model).
//!
//! Reference: each folder's golden.json / golden.safetensors, written by transformers in f32 on
//! CPU. Tolerances: prompt ids, image-token counts, tile grids and greedy token ids exact; pixel
//! values ≤ 1e-6 abs; vision hidden states, connector output and step-0 logits ≤ 1e-4 abs (the
//! issue's bar; the fixtures' smallest top-1/top-2 logit margin is ~0.01, so a 1e-4 error cannot
//! flip a greedy token).

use std::path::Path;

use candle_core::{Device, Tensor};
use serde_json::Value;
use smolvlm::{CancelToken, LoadOptions, SamplingParams, SmolVlmModel, StopReason};

use crate::support::{
    case_messages, fixture, golden, golden_tensors, ids, max_abs_diff, step0_logits,
};

const FIXTURES: [&str; 4] = [
    "tiny-smolvlm",
    "tiny-2b-style",
    "tiny-smolvlm2-style",
    "tiny-odd-grid",
];

fn load(dir: &Path) -> SmolVlmModel {
    SmolVlmModel::load(dir, &LoadOptions::default()).unwrap()
}

#[test]
fn prompts_and_tile_grids_match_transformers() {
    for name in FIXTURES {
        let dir = fixture(name);
        let model = load(&dir);
        for case in golden(&dir)["cases"].as_array().unwrap() {
            let id = &case["id"];
            let longest_edge = case
                .get("longest_edge")
                .and_then(Value::as_u64)
                .map(|v| v as u32);
            let prompt = model
                .prepare(&case_messages(&dir, case), longest_edge)
                .unwrap();
            assert_eq!(
                prompt.ids,
                ids(&case["input_ids"]),
                "{name} case {id}: input ids"
            );
            assert_eq!(
                prompt.image_tokens as u64,
                case["n_image_tokens"].as_u64().unwrap()
            );
            let grids: Vec<(u64, u64, u64)> = prompt
                .images
                .iter()
                .map(|p| (p.rows as u64, p.cols as u64, p.frames as u64))
                .collect();
            let expected: Vec<(u64, u64, u64)> = case["images_info"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    let g = |k: &str| i[k].as_u64().unwrap();
                    (g("rows"), g("cols"), g("frames"))
                })
                .collect();
            assert_eq!(grids, expected, "{name} case {id}: tile grids");
            if let Some(sum) = case.get("pixel_values_sum").and_then(Value::as_f64) {
                let ours: f64 = prompt.pixel_values.iter().map(|&v| v as f64).sum();
                assert!(
                    (ours - sum).abs() <= 1e-6 * sum.abs().max(1.0),
                    "{name} case {id}: pixel sum {ours} vs {sum}"
                );
            }
        }
    }
}

#[test]
fn vision_connector_and_logits_match_transformers() {
    for name in FIXTURES {
        let dir = fixture(name);
        let mut model = load(&dir);
        let tensors = golden_tensors(&dir);
        let cases = golden(&dir)["cases"].as_array().unwrap().clone();
        for case in &cases {
            let id = case["id"].as_u64().unwrap();
            let key = |k: &str| format!("case{id}.{k}");
            let longest_edge = case
                .get("longest_edge")
                .and_then(Value::as_u64)
                .map(|v| v as u32);
            let prompt = model
                .prepare(&case_messages(&dir, case), longest_edge)
                .unwrap();
            let net = model.network();
            let features = if prompt.frames > 0 {
                let t = prompt.tile;
                let ours = Tensor::from_slice(
                    &prompt.pixel_values,
                    (prompt.frames, 3, t, t),
                    &Device::Cpu,
                )
                .unwrap();
                if let Some(golden_pixels) = tensors.get(&key("pixel_values")) {
                    let d = max_abs_diff(&ours, &golden_pixels.squeeze(0).unwrap());
                    assert!(d <= 1e-6, "{name} case {id}: pixel values differ by {d}");
                }
                let hidden = net.vision_hidden(&ours).unwrap();
                if let Some(g) = tensors.get(&key("vision_last_hidden_state")) {
                    let d = max_abs_diff(&hidden, g);
                    assert!(d <= 1e-4, "{name} case {id}: vision hidden differs by {d}");
                }
                let features = net.encode_frames(&ours).unwrap();
                if let Some(g) = tensors.get(&key("connector_output")) {
                    let d = max_abs_diff(&features, g);
                    assert!(
                        d <= 1e-4,
                        "{name} case {id}: connector output differs by {d}"
                    );
                }
                let (f, k, h) = features.dims3().unwrap();
                Some(features.reshape((f * k, h)).unwrap())
            } else {
                None
            };
            if let Some(g) = tensors.get(&key("logits_step0")) {
                let logits = step0_logits(&mut model, &prompt.ids, features.as_ref());
                let d = max_abs_diff(&logits, g);
                assert!(d <= 1e-4, "{name} case {id}: step-0 logits differ by {d}");
            }
        }
    }
}

#[test]
fn greedy_generation_reproduces_transformers_tokens() {
    for name in FIXTURES {
        let dir = fixture(name);
        let mut model = load(&dir);
        for case in golden(&dir)["cases"].as_array().unwrap() {
            let id = &case["id"];
            let longest_edge = case
                .get("longest_edge")
                .and_then(Value::as_u64)
                .map(|v| v as u32);
            let prompt = model
                .prepare(&case_messages(&dir, case), longest_edge)
                .unwrap();
            let expected = ids(&case["generated_ids"]);
            let params = SamplingParams {
                max_new_tokens: 24,
                ..Default::default()
            };
            let summary = model
                .generate(prompt, params, CancelToken::new())
                .run()
                .unwrap();
            assert_eq!(
                summary.token_ids, expected,
                "{name} case {id}: greedy tokens"
            );
            let eos = case
                .get("stopped_by_eos")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let reason = if eos {
                StopReason::Eos
            } else {
                StopReason::Length
            };
            assert_eq!(summary.stop_reason, reason);
            let text = model.tokenizer().decode(&expected, true).unwrap();
            assert_eq!(summary.text, text, "{name} case {id}: streamed text");
        }
    }
}
