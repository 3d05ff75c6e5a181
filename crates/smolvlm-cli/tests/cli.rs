//! The `smolvlm generate` contract: flags, the `--json` object, and clear non-zero failures.
//! Goldens: the single-turn cases of every committed tiny fixture (transformers 5.24, greedy,
//! f32); token ids, prompt and image-token counts must match exactly.

use std::path::Path;

use serde_json::Value;

mod common;
use common::{fixtures, json_of, smolvlm};

#[test]
fn generate_json_reproduces_every_single_turn_golden() {
    let mut checked = 0;
    for name in [
        "tiny-smolvlm",
        "tiny-2b-style",
        "tiny-smolvlm2-style",
        "tiny-odd-grid",
    ] {
        let dir = fixtures().join(name);
        let golden: Value =
            serde_json::from_slice(&std::fs::read(dir.join("golden.json")).unwrap()).unwrap();
        for case in golden["cases"].as_array().unwrap() {
            let msgs = case["messages"].as_array().unwrap();
            let user = &msgs[0];
            let parts = user["content"].as_array().unwrap();
            let single_turn = msgs.len() == 1
                && parts.last().unwrap()["type"] == "text"
                && parts[..parts.len() - 1]
                    .iter()
                    .all(|p| p["type"] == "image");
            if !single_turn {
                continue;
            }
            let text = parts.last().unwrap()["text"].as_str().unwrap();
            let mut args = vec![
                "generate".to_string(),
                "--model".into(),
                dir.display().to_string(),
            ];
            for image in case["images"].as_array().unwrap() {
                args.push("--image".into());
                args.push(dir.join(image.as_str().unwrap()).display().to_string());
            }
            if let Some(px) = case.get("longest_edge").and_then(Value::as_u64) {
                args.push("--longest-edge".into());
                args.push(px.to_string());
            }
            for a in [
                "--prompt",
                text,
                "--temperature",
                "0",
                "--max-new-tokens",
                "24",
                "--json",
            ] {
                args.push(a.into());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = smolvlm(&args);
            assert!(
                out.status.success(),
                "{name} case {}: {}",
                case["id"],
                String::from_utf8_lossy(&out.stderr)
            );
            let got = json_of(&out);
            assert_eq!(
                got["token_ids"], case["generated_ids"],
                "{name} case {}",
                case["id"]
            );
            assert_eq!(got["prompt_tokens"], case["n_prompt_tokens"]);
            assert_eq!(got["image_tokens"], case["n_image_tokens"]);
            assert_eq!(got["stop_reason"], "length");
            assert!(got["text"].is_string());
            for key in [
                "load_s",
                "vision_s",
                "prefill_s",
                "decode_s",
                "decode_tokens_per_s",
            ] {
                assert!(
                    got["timings"][key].as_f64().unwrap() >= 0.0,
                    "timings.{key}"
                );
            }
            // The wait before the answer starts holds the image and prompt passes.
            let t = &got["timings"];
            let first = got["first_token_s"].as_f64().expect("first_token_s");
            let stages = t["vision_s"].as_f64().unwrap() + t["prefill_s"].as_f64().unwrap();
            assert!(
                first >= stages,
                "first token {first} s before {stages} s of stages"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} single-turn cases found");
}

#[test]
fn plain_output_streams_the_same_text_as_json() {
    let dir = fixtures().join("tiny-smolvlm");
    let model = dir.display().to_string();
    let base = [
        "generate",
        "--model",
        &model,
        "--prompt",
        "Write a haiku about the sea.",
        "--max-new-tokens",
        "12",
    ];
    let plain = smolvlm(&base);
    assert!(plain.status.success());
    let json = json_of(&smolvlm(&[&base[..], &["--json"]].concat()));
    let streamed = String::from_utf8(plain.stdout).unwrap();
    assert_eq!(
        streamed.trim_end_matches('\n'),
        json["text"].as_str().unwrap()
    );
}

#[test]
fn ignore_eos_and_sampling_flags_are_accepted() {
    let model = fixtures().join("tiny-smolvlm").display().to_string();
    let run = |seed: &str| {
        json_of(&smolvlm(&[
            "generate",
            "--model",
            &model,
            "--prompt",
            "Hello",
            "--max-new-tokens",
            "8",
            "--temperature",
            "0.9",
            "--top-k",
            "40",
            "--top-p",
            "0.95",
            "--seed",
            seed,
            "--ignore-eos",
            "--json",
        ]))
    };
    let a = run("1");
    assert_eq!(a["token_ids"].as_array().unwrap().len(), 8);
    assert_eq!(
        a["token_ids"],
        run("1")["token_ids"],
        "same seed, same tokens"
    );
}

/// A failure: non-zero exit, a one-line message on stderr, no panic, and with `--json` an
/// `{"error": {code, message}}` object.
/// The llama.cpp f16 GGUF pair of tiny-smolvlm (converted from the same weights) gives the
/// transformers goldens through `--model X.gguf --mmproj Y.gguf`; the text model alone answers
/// the text-only case and refuses images with a typed error.
#[test]
fn generate_with_a_gguf_pair_reproduces_the_goldens() {
    let dir = fixtures().join("tiny-smolvlm");
    let golden: Value =
        serde_json::from_slice(&std::fs::read(dir.join("golden.json")).unwrap()).unwrap();
    let model = dir.join("model-f16.gguf").display().to_string();
    let mmproj = dir.join("mmproj-f16.gguf").display().to_string();
    for case in golden["cases"].as_array().unwrap() {
        let mut args: Vec<String> = ["generate", "--model", &model, "--mmproj", &mmproj]
            .map(String::from)
            .to_vec();
        for image in case["images"].as_array().unwrap() {
            args.push("--image".into());
            args.push(dir.join(image.as_str().unwrap()).display().to_string());
        }
        let text = case["text"].as_str().unwrap();
        for a in ["--prompt", text, "--max-new-tokens", "24", "--json"] {
            args.push(a.into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = smolvlm(&args);
        assert!(
            out.status.success(),
            "case {}: {}",
            case["id"],
            String::from_utf8_lossy(&out.stderr)
        );
        let got = json_of(&out);
        assert_eq!(
            got["token_ids"], case["generated_ids"],
            "case {}",
            case["id"]
        );
        assert_eq!(got["prompt_tokens"], case["n_prompt_tokens"]);
        assert_eq!(got["image_tokens"], case["n_image_tokens"]);
    }
    let out = smolvlm(&[
        "generate",
        "--model",
        &model,
        "--prompt",
        "hi",
        "--max-new-tokens",
        "2",
    ]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("text-only"), "{stderr}");
    // The path is loaded as given, but the hub's pairing names the projector beside it.
    assert!(stderr.contains("mmproj-f16.gguf"), "{stderr}");
    let image = dir.join("img_wide_300x200.png").display().to_string();
    expect_failure(
        &[
            "generate", "--model", &model, "--image", &image, "--prompt", "hi",
        ],
        "no_vision_encoder",
        "mmproj",
    );
    expect_failure(
        &["generate", "--model", &mmproj, "--prompt", "hi"],
        "unsupported_model",
        "--mmproj",
    );
}

fn expect_failure(args: &[&str], code: &str, message_part: &str) {
    let out = smolvlm(&[args, &["--json"]].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    let got = json_of(&out);
    assert_eq!(got["error"]["code"], code, "{args:?}: {stderr}");
    let message = got["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(message_part),
        "{args:?}: {message:?} lacks {message_part:?}"
    );
}

#[test]
fn bad_images_fail_clearly() {
    let model = fixtures().join("tiny-smolvlm").display().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let text_file = tmp.path().join("notes.png");
    std::fs::write(&text_file, "these are not pixels").unwrap();
    let png = std::fs::read(fixtures().join("tiny-smolvlm/img_wide_300x200.png")).unwrap();
    let truncated = tmp.path().join("cut.png");
    std::fs::write(&truncated, &png[..png.len() / 2]).unwrap();
    let empty = tmp.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let missing = tmp.path().join("nowhere.png");
    for (file, part) in [
        (&text_file, "notes.png"),
        (&truncated, "cut.png"),
        (&empty, "empty.jpg"),
        (&missing, "nowhere.png"),
    ] {
        let out = smolvlm(&[
            "generate",
            "--model",
            &model,
            "--image",
            file.to_str().unwrap(),
            "--prompt",
            "hi",
            "--json",
        ]);
        assert!(!out.status.success());
        let got = json_of(&out);
        let message = got["error"]["message"].as_str().unwrap();
        assert!(message.contains(part), "{message}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}

#[test]
fn bad_models_fail_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join("tiny-smolvlm");
    let copy = |dir: &Path| {
        std::fs::create_dir_all(dir).unwrap();
        for f in [
            "config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "preprocessor_config.json",
            "processor_config.json",
            "chat_template.json",
            "generation_config.json",
            "model.safetensors",
        ] {
            std::fs::copy(src.join(f), dir.join(f)).unwrap();
        }
    };
    let gen_args = |dir: &Path| -> Vec<String> {
        [
            "generate",
            "--model",
            dir.to_str().unwrap(),
            "--prompt",
            "hi",
        ]
        .map(String::from)
        .to_vec()
    };
    let run = |dir: &Path, code: &str, part: &str| {
        let args = gen_args(dir);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        expect_failure(&args, code, part);
    };

    run(&tmp.path().join("absent"), "missing_model_file", "absent");

    let no_weights = tmp.path().join("no-weights");
    copy(&no_weights);
    std::fs::remove_file(no_weights.join("model.safetensors")).unwrap();
    run(&no_weights, "missing_model_file", "model.safetensors");

    let truncated = tmp.path().join("truncated");
    copy(&truncated);
    let weights = std::fs::read(src.join("model.safetensors")).unwrap();
    std::fs::write(
        truncated.join("model.safetensors"),
        &weights[..weights.len() / 3],
    )
    .unwrap();
    run(&truncated, "malformed_model_file", "model.safetensors");

    let bad_json = tmp.path().join("bad-json");
    copy(&bad_json);
    std::fs::write(bad_json.join("config.json"), "{ not json").unwrap();
    run(&bad_json, "malformed_model_file", "config.json");

    let llava = tmp.path().join("llava");
    copy(&llava);
    let cfg = std::fs::read_to_string(src.join("config.json")).unwrap();
    std::fs::write(
        llava.join("config.json"),
        cfg.replace("\"idefics3\"", "\"llava\""),
    )
    .unwrap();
    run(&llava, "unsupported_model", "llava");

    let gguf = tmp.path().join("model.gguf");
    std::fs::write(&gguf, b"GGUF").unwrap();
    expect_failure(
        &[
            "generate",
            "--model",
            gguf.to_str().unwrap(),
            "--prompt",
            "hi",
        ],
        "malformed_model_file",
        "GGUF",
    );
    let model = src.display().to_string();
    expect_failure(
        &[
            "generate",
            "--model",
            &model,
            "--mmproj",
            gguf.to_str().unwrap(),
            "--prompt",
            "hi",
        ],
        "invalid_request",
        "vision projector",
    );
}

#[test]
fn a_prompt_past_the_context_says_what_it_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join("tiny-smolvlm");
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if name == "config.json" {
            let cfg = std::fs::read_to_string(&path).unwrap();
            let small = cfg.replace(
                "\"max_position_embeddings\": 8192",
                "\"max_position_embeddings\": 64",
            );
            assert_ne!(cfg, small);
            std::fs::write(tmp.path().join(name), small).unwrap();
        } else {
            std::fs::copy(&path, tmp.path().join(name)).unwrap();
        }
    }
    let model = tmp.path().display().to_string();
    let image = src.join("img_wide_300x200.png").display().to_string();
    // The golden prompt for this image is 96 tokens.
    expect_failure(
        &[
            "generate",
            "--model",
            &model,
            "--image",
            &image,
            "--prompt",
            "What is in this image?",
        ],
        "prompt_too_long",
        "needs 97 tokens but the model's context holds 64",
    );
    // Text that fits leaves generation to stop at the context's end, not fail.
    let out = smolvlm(&[
        "generate",
        "--model",
        &model,
        "--prompt",
        "hi",
        "--max-new-tokens",
        "500",
        "--ignore-eos",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = json_of(&out);
    assert_eq!(got["stop_reason"], "length");
    let total =
        got["prompt_tokens"].as_u64().unwrap() + got["token_ids"].as_array().unwrap().len() as u64;
    assert_eq!(total, 64);
}

/// `smolvlm bench --json`: one object with the fields scripts read (issue 5's contract), the
/// image's frame count as transformers splits it (the golden's `images_info`), and the settings
/// given: a rate for each prompt length and each decode depth, in the order asked. Speeds are
/// only checked to be measured (positive and finite), never timed.
#[test]
fn bench_json_reports_every_measurement() {
    let dir = fixtures().join("tiny-smolvlm");
    let golden: Value =
        serde_json::from_slice(&std::fs::read(dir.join("golden.json")).unwrap()).unwrap();
    let info = &golden["cases"][0]["images_info"][0];
    let image = dir.join(info["file"].as_str().unwrap());
    let out = smolvlm(&[
        "bench",
        "--model",
        dir.to_str().unwrap(),
        "--image",
        image.to_str().unwrap(),
        "--prompt-tokens",
        "16,40",
        "--decode-tokens",
        "4",
        "--decode-depth",
        "0,24",
        "--repetitions",
        "1",
        "--threads",
        "1",
        "--device",
        "cpu",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json_of(&out);
    for key in [
        "load_s",
        "vision_s_per_tile",
        "prefill_tokens_per_s",
        "decode_tokens_per_s",
    ] {
        let v = r[key].as_f64().unwrap_or_else(|| panic!("{key} in {r}"));
        assert!(v.is_finite() && v > 0.0, "{key} = {v}");
    }
    assert_eq!(r["vision_frames"], info["frames"], "{r}");
    assert_eq!(r["prefill_tokens"], 16, "{r}");
    let rates = |list: &str, key: &str| -> Vec<u64> {
        let rows = r[list]
            .as_array()
            .unwrap_or_else(|| panic!("{list} in {r}"));
        for row in rows {
            let v = row["tokens_per_s"].as_f64().unwrap();
            assert!(v.is_finite() && v > 0.0, "{row}");
        }
        rows.iter().map(|row| row[key].as_u64().unwrap()).collect()
    };
    assert_eq!(rates("prefill", "tokens"), [16, 40], "{r}");
    assert_eq!(rates("decode", "depth"), [0, 24], "{r}");
    assert_eq!(
        r["decode_tokens_per_s"], r["decode"][0]["tokens_per_s"],
        "{r}"
    );
    assert_eq!(r["decode_tokens"], 4, "{r}");
    assert_eq!(r["threads"], 1, "{r}");
    assert_eq!(r["device"], "cpu", "{r}");
    let simd = r["simd"].as_str().unwrap();
    assert!(
        ["scalar", "neon", "avx2", "avx512", "amx"].contains(&simd),
        "{simd}"
    );
    if cfg!(target_os = "linux") {
        assert!(r["peak_rss_bytes"].as_u64().unwrap() > 0, "{r}");
    }
}
