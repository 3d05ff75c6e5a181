//! Parity with transformers 5.24 on real JPEG photos (tests/fixtures/jpeg-parity/golden.json,
//! made by scripts/fixtures/make_jpeg_parity.py).
//!
//! Reference: for each tiny fixture model, transformers' `load_image` on the committed photos of
//! tests/fixtures/jpeg/pillow/ (Pillow 13.0.0 decode, `ImageOps.exif_transpose`,
//! `convert("RGB")`), the model's processor, then greedy `generate` (24 new tokens) in f32 on
//! CPU. The engine gets the same JPEG files by path. Tolerances: prompt ids, image-token counts,
//! tile grids, resized sizes and greedy token ids exact; the pixel values' sha256 exact (they
//! come from uint8 pixels, so any decoder, orientation or resampling difference shows there
//! first); every case's smallest top-1/top-2 logit margin is ≥ 0.01.

use serde_json::Value;
use sha2::{Digest, Sha256};
use smolvlm::{CancelToken, LoadOptions, SamplingParams, SmolVlmModel, StopReason};

use crate::support::{case_messages, fixture, golden, ids};

#[test]
fn jpeg_photos_reproduce_transformers_prompts_and_greedy_tokens() {
    let dir = fixture("jpeg-parity");
    let golden = golden(&dir);
    let models = golden["models"].as_array().unwrap();
    let names: Vec<&str> = models
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["tiny-smolvlm", "tiny-2b-style", "tiny-smolvlm2-style"]
    );
    let mut checked = 0;
    for m in models {
        let name = m["model"].as_str().unwrap();
        let mut model = SmolVlmModel::load(&fixture(name), &LoadOptions::default()).unwrap();
        let cases = m["cases"].as_array().unwrap();
        assert!(!cases.is_empty(), "{name}: no cases");
        for case in cases {
            let id = &case["id"];
            let images = case["images"].as_array().unwrap();
            assert!(!images.is_empty(), "{name} case {id}: no JPEG");
            for f in images {
                let f = f.as_str().unwrap();
                assert!(f.ends_with(".jpg"), "{name} case {id}: {f} is not a JPEG");
                assert!(dir.join(f).is_file(), "{name} case {id}: {f} is missing");
            }
            let longest_edge = case
                .get("longest_edge")
                .and_then(Value::as_u64)
                .map(|v| v as u32);
            // Image paths in the golden are relative to its folder.
            let prompt = model
                .prepare(&case_messages(&dir, case), longest_edge)
                .unwrap();
            assert_eq!(
                prompt.ids,
                ids(&case["input_ids"]),
                "{name} case {id}: prompt ids"
            );
            assert_eq!(
                prompt.image_tokens as u64,
                case["n_image_tokens"].as_u64().unwrap(),
                "{name} case {id}: image tokens"
            );
            let plans: Vec<[u64; 5]> = prompt
                .images
                .iter()
                .map(|p| {
                    [
                        p.resized.0 as u64,
                        p.resized.1 as u64,
                        p.rows as u64,
                        p.cols as u64,
                        p.frames as u64,
                    ]
                })
                .collect();
            let expected: Vec<[u64; 5]> = case["images_info"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    let g = |k: &str| i[k].as_u64().unwrap();
                    let r = ids(&i["resized_wh"]);
                    [r[0] as u64, r[1] as u64, g("rows"), g("cols"), g("frames")]
                })
                .collect();
            assert_eq!(
                plans, expected,
                "{name} case {id}: resized size and tile grid [w, h, rows, cols, frames]"
            );
            let shape = ids(&case["pixel_values_shape"]);
            assert_eq!(
                [prompt.frames, 3, prompt.tile, prompt.tile],
                [
                    shape[1] as usize,
                    shape[2] as usize,
                    shape[3] as usize,
                    shape[4] as usize
                ],
                "{name} case {id}: pixel values shape"
            );
            let bytes: Vec<u8> = prompt
                .pixel_values
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            let sum: f64 = prompt.pixel_values.iter().map(|&v| v as f64).sum();
            let golden_sum = case["pixel_values_sum"].as_f64().unwrap();
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                case["pixel_values_sha256"].as_str().unwrap(),
                "{name} case {id}: pixel values (f32 LE) differ; sum {sum} vs {golden_sum}"
            );
            assert!(
                case["min_margin"].as_f64().unwrap() >= 0.01,
                "{name} case {id}: the golden's margin is too small to compare greedy tokens"
            );

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
            let reason = if case["stopped_by_eos"].as_bool().unwrap() {
                StopReason::Eos
            } else {
                StopReason::Length
            };
            assert_eq!(summary.stop_reason, reason, "{name} case {id}: stop reason");
            checked += 1;
        }
    }
    eprintln!("jpeg parity: {checked} cases exact");
}
