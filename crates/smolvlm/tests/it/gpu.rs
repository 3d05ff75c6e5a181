//! The GPU held to the CPU's goldens. Runs on the device `SMOLVLM_GPU` names (`cuda`, `metal`;
//! a named device that does not answer fails the test, so a GPU job cannot pass by skipping),
//! else on CUDA or Metal when the build has it and a device answers; without one each test says
//! so on stderr and passes.
//!
//! Reference and tolerances as on the CPU (golden_parity.rs, gguf.rs): transformers' f32 greedy
//! tokens identical on the three tiny models; the f16 GGUF pair's tokens identical and its
//! step-0 logits within `F16_STEP0_MAX_ABS`; the q8_0 pair's step-0 logits within
//! `Q8_STEP0_MAX_ABS`.

use std::path::Path;

use serde_json::Value;
use smolvlm::{
    CancelToken, DevicePreference, LoadOptions, SamplingParams, SmolVlmModel, select_device,
};

use crate::gguf::{F16_STEP0_MAX_ABS, Q8_STEP0_MAX_ABS};
use crate::support::{case_messages, fixture, golden, ids, step0_logit_error};

fn gpu() -> Option<DevicePreference> {
    if let Ok(name) = std::env::var("SMOLVLM_GPU") {
        let pref: DevicePreference = name.parse().expect("SMOLVLM_GPU: cuda or metal");
        if let Err(e) = select_device(pref) {
            panic!("SMOLVLM_GPU={name}, but the device does not answer: {e}");
        }
        return Some(pref);
    }
    let found = [DevicePreference::Cuda, DevicePreference::Metal]
        .into_iter()
        .find(|&p| select_device(p).is_ok());
    if found.is_none() {
        eprintln!("no GPU in this build or on this machine: GPU parity skipped");
    }
    found
}

fn load(path: &Path, mmproj: Option<&Path>, device: DevicePreference) -> SmolVlmModel {
    let options = LoadOptions {
        device,
        mmproj: mmproj.map(Path::to_path_buf),
        ..LoadOptions::default()
    };
    let model = SmolVlmModel::load(path, &options).unwrap();
    assert!(
        !model.device().is_cpu(),
        "{} loaded on the CPU",
        path.display()
    );
    model
}

/// Every golden case of `dir`, greedy, 24 tokens: the model's `(prompt ids, tokens)` beside the
/// case.
fn each_case(model: &mut SmolVlmModel, dir: &Path, mut check: impl FnMut(&Value, Vec<u32>)) {
    for case in golden(dir)["cases"].as_array().unwrap() {
        let longest_edge = case
            .get("longest_edge")
            .and_then(Value::as_u64)
            .map(|v| v as u32);
        let prompt = model
            .prepare(&case_messages(dir, case), longest_edge)
            .unwrap();
        assert_eq!(prompt.ids, ids(&case["input_ids"]), "case {}", case["id"]);
        let params = SamplingParams {
            max_new_tokens: 24,
            ..SamplingParams::default()
        };
        let summary = model
            .generate(prompt, params, CancelToken::new())
            .run()
            .unwrap();
        check(case, summary.token_ids);
    }
}

#[test]
fn f32_tokens_on_the_gpu_are_transformers_tokens() {
    let Some(device) = gpu() else { return };
    for name in [
        "tiny-smolvlm",
        "tiny-2b-style",
        "tiny-smolvlm2-style",
        "tiny-odd-grid",
    ] {
        let dir = fixture(name);
        let mut model = load(&dir, None, device);
        each_case(&mut model, &dir, |case, tokens| {
            assert_eq!(
                tokens,
                ids(&case["generated_ids"]),
                "{name} case {}",
                case["id"]
            );
        });
    }
}

#[test]
fn gguf_pairs_on_the_gpu_stay_within_their_bounds() {
    let Some(device) = gpu() else { return };
    let dir = fixture("tiny-smolvlm");
    let pair = |kind: &str| {
        load(
            &dir.join(format!("model-{kind}.gguf")),
            Some(&dir.join(format!("mmproj-{kind}.gguf"))),
            device,
        )
    };
    let mut f16 = pair("f16");
    each_case(&mut f16, &dir, |case, tokens| {
        assert_eq!(
            tokens,
            ids(&case["generated_ids"]),
            "f16 case {}",
            case["id"]
        );
    });
    let err = step0_logit_error(&mut f16, &dir);
    assert!(err <= F16_STEP0_MAX_ABS, "f16 step-0 logits off by {err}");
    let err = step0_logit_error(&mut pair("q8_0"), &dir);
    eprintln!("q8_0 on the GPU: step-0 logits within {err} of transformers");
    assert!(err <= Q8_STEP0_MAX_ABS, "q8_0 step-0 logits off by {err}");
}
