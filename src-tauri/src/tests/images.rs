//! Images: import from paths and pasted bytes, and costs against the processor's own output.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::harness::*;

#[test]
fn images_are_imported_from_paths_and_pasted_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let src = fixture_image("img_wide_300x200.png");
    let bytes = std::fs::read(&src).unwrap();
    let sha = sha256_of(&bytes);

    let img = h.invoke("import_image", json!({"path": src})).unwrap();
    assert_eq!(img["sha256"], sha.as_str());
    assert_eq!(img["width"], 300);
    assert_eq!(img["height"], 200);
    assert_eq!(img["originalName"], "img_wide_300x200.png");
    let file = PathBuf::from(img["file"].as_str().unwrap());
    assert!(file.is_absolute(), "{file:?}");
    assert_eq!(file, dir.path().join("images").join(format!("{sha}.png")));
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    // The stored copy is itself a valid message image.
    let conv = h.new_conversation();
    h.load_tiny();
    h.send(
        &conv,
        "Hi",
        &[file.display().to_string()],
        json!({"maxNewTokens": 1}),
    )
    .unwrap();
    assert_eq!(h.wait_end().last().unwrap()["type"], "done");

    // A paste: the same bytes, named by a percent-encoded header; stored once.
    let pasted = invoke_raw(
        &h,
        "import_image_bytes",
        bytes.clone(),
        Some("caf%C3%A9%20screenshot.png"),
    )
    .unwrap();
    assert_eq!(pasted["sha256"], sha.as_str());
    assert_eq!(pasted["file"], img["file"]);
    assert_eq!(pasted["originalName"], "café screenshot.png");
    assert_eq!(
        std::fs::read_dir(dir.path().join("images"))
            .unwrap()
            .count(),
        1
    );
    // Without a name it still has one.
    let jpeg = solid_image(40, 30, [200, 10, 10], image::ImageFormat::Jpeg);
    let anon = invoke_raw(&h, "import_image_bytes", jpeg, None).unwrap();
    assert_eq!(anon["originalName"], "pasted image");
    assert!(anon["file"].as_str().unwrap().ends_with(".jpg"));
    assert_eq!(
        (anon["width"].as_u64(), anon["height"].as_u64()),
        (Some(40), Some(30))
    );

    // Corrupt data is a typed error: a PNG cut after its header, noise, nothing at all.
    let code = |r: Result<Value, Value>| r.unwrap_err()["code"].as_str().unwrap().to_string();
    let cut = bytes[..bytes.len() / 3].to_vec();
    assert_eq!(
        code(invoke_raw(
            &h,
            "import_image_bytes",
            cut.clone(),
            Some("cut.png")
        )),
        "not_an_image"
    );
    assert_eq!(
        code(invoke_raw(
            &h,
            "import_image_bytes",
            b"hello, not an image".to_vec(),
            Some("x.png")
        )),
        "not_an_image"
    );
    assert_eq!(
        code(invoke_raw(&h, "import_image_bytes", Vec::new(), None)),
        "not_an_image"
    );
    // JSON instead of raw bytes.
    assert_eq!(
        h.error_code("import_image_bytes", json!({"bytes": [1, 2]})),
        "invalid_input"
    );
    // Files: a cut PNG on disk, a text file named .png, a folder, missing, relative.
    let cut_file = dir.path().join("cut.png");
    std::fs::write(&cut_file, &cut).unwrap();
    let text_file = dir.path().join("notes.png");
    std::fs::write(&text_file, "not an image").unwrap();
    // Dropped, so each is refused for what it is (tests::access: paths never dropped).
    h.drop_paths([
        cut_file.clone(),
        text_file.clone(),
        dir.path().to_path_buf(),
        "/no/such/image.png".into(),
    ]);
    for (path, expected) in [
        (cut_file.display().to_string(), "not_an_image"),
        (text_file.display().to_string(), "not_an_image"),
        (dir.path().display().to_string(), "not_an_image"),
        ("/no/such/image.png".to_string(), "not_found"),
        ("relative.png".to_string(), "invalid_input"),
    ] {
        assert_eq!(
            h.error_code("import_image", json!({"path": path})),
            expected,
            "{path}"
        );
    }
    // Nothing of the refused ones was stored.
    assert_eq!(
        std::fs::read_dir(dir.path().join("images"))
            .unwrap()
            .count(),
        2
    );
}

#[test]
fn image_cost_matches_the_processor_and_the_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let wide = fixture_image("img_wide_300x200.png");
    assert_eq!(
        h.error_code("image_cost", json!({"path": wide})),
        "no_model_loaded"
    );
    h.load_tiny();

    let cfg = smolvlm_image::ProcessorConfig::from_dir(&tiny_dir()).unwrap();
    let processor = smolvlm_image::ImageProcessor::new(cfg.clone());
    let limits = smolvlm_image::ImageLimits::default();
    for name in [
        "img_wide_300x200.png",
        "img_tall_96x300.png",
        "img_long_500x120.png",
    ] {
        let path = fixture_image(name);
        let rgb = smolvlm_image::load_image_file(Path::new(&path), &limits).unwrap();
        for edge in [None, Some(128), Some(256), Some(384), Some(1024)] {
            let p = match edge {
                Some(px) => processor.with_longest_edge(px).unwrap(),
                None => processor.clone(),
            };
            let processed = p.process(&rgb).unwrap();
            let cost = h
                .invoke("image_cost", json!({"path": path, "longestEdge": edge}))
                .unwrap();
            let plan = processed.plan;
            assert_eq!(cost["width"], rgb.width(), "{name} {edge:?}");
            assert_eq!(cost["height"], rgb.height());
            assert_eq!(
                cost["resizedWidth"], plan.resized.0,
                "{name} {edge:?}: {cost}"
            );
            assert_eq!(cost["resizedHeight"], plan.resized.1);
            assert_eq!(cost["rows"], plan.rows);
            assert_eq!(cost["cols"], plan.cols);
            assert_eq!(
                cost["frames"],
                processed.frames.len(),
                "{name} {edge:?}: {cost}"
            );
            assert_eq!(cost["tokens"], processed.frames.len() * cfg.image_seq_len);
            assert_eq!(cost["tileSize"], 128);
            assert_eq!(cost["defaultLongestEdge"], 512);
        }
    }
    // The tiny model: tile 128, 4 tokens a frame, 8192 positions. The largest edge keeps a
    // square image's tokens within half the context: 31 × 128 (31² + 1 frames × 4 ≤ 4096).
    let c = h.invoke("image_cost", json!({"path": wide})).unwrap();
    assert_eq!(c["maxLongestEdge"], 31 * 128);
    assert_eq!(
        (c["resizedWidth"].as_u64(), c["resizedHeight"].as_u64()),
        (Some(512), Some(342))
    );
    assert_eq!((c["rows"].as_u64(), c["cols"].as_u64()), (Some(3), Some(4)));
    assert_eq!(c["frames"], 13);
    assert_eq!(c["tokens"], 52);
    // Out of the model's range: clamped (one tile at least, the maximum at most).
    let small = h
        .invoke("image_cost", json!({"path": wide, "longestEdge": 10}))
        .unwrap();
    assert_eq!(small["resizedWidth"], 128);
    assert_eq!(small["frames"], 1);
    let big = h
        .invoke("image_cost", json!({"path": wide, "longestEdge": 8000}))
        .unwrap();
    assert_eq!(big["resizedWidth"], 31 * 128);
    for bad in [0, 8193, 100_000] {
        assert_eq!(
            h.error_code("image_cost", json!({"path": wide, "longestEdge": bad})),
            "invalid_input"
        );
    }
    let text_file = dir.path().join("notes.png");
    std::fs::write(&text_file, "not an image").unwrap();
    h.drop_paths(["/no/such.png".into(), text_file.clone()]);
    assert_eq!(
        h.error_code("image_cost", json!({"path": "/no/such.png"})),
        "not_found"
    );
    assert_eq!(
        h.error_code("image_cost", json!({"path": text_file})),
        "not_an_image"
    );

    // The prompt of a real answer has exactly the tokens image_cost announced.
    let conv = h.new_conversation();
    for edge in [256, 384] {
        h.events.lock().unwrap().clear();
        let c = h
            .invoke("image_cost", json!({"path": wide, "longestEdge": edge}))
            .unwrap();
        let fresh = h.new_conversation();
        h.send(
            &fresh,
            "What is it?",
            std::slice::from_ref(&wide),
            json!({"maxNewTokens": 1, "longestEdge": edge}),
        )
        .unwrap();
        let events = h.wait_end();
        assert_eq!(events[0]["imageTokens"], c["tokens"], "{edge}: {events:?}");
        assert_eq!(events[0]["frames"], c["frames"]);
    }
    // The settings' resolution is the default of both: fast is half the tiny model's 4 tiles
    // of 128 px, document 5 of them.
    h.invoke("save_settings", json!({"settings": {"resolution": "fast"}}))
        .unwrap();
    let c = h.invoke("image_cost", json!({"path": wide})).unwrap();
    assert_eq!(c["resizedWidth"], 256);
    assert_eq!(
        c["presets"],
        json!({"fast": 256, "standard": 512, "document": 640})
    );
    h.events.lock().unwrap().clear();
    h.send(
        &conv,
        "And now?",
        std::slice::from_ref(&wide),
        json!({"maxNewTokens": 1}),
    )
    .unwrap();
    let events = h.wait_end();
    assert_eq!(events[0]["imageTokens"], c["tokens"], "{events:?}");

    // A text-only model (GGUF without its projector) cannot cost images.
    let lone = tempfile::tempdir().unwrap();
    let gguf = lone.path().join("model-q8_0.gguf");
    std::fs::copy(tiny_dir().join("model-q8_0.gguf"), &gguf).unwrap();
    std::fs::copy(
        tiny_dir().join("tokenizer.json"),
        lone.path().join("tokenizer.json"),
    )
    .unwrap();
    h.drop_paths([&gguf]);
    let info = h.invoke("load_model", json!({"path": gguf})).unwrap();
    assert_eq!(info["hasVision"], false);
    assert_eq!(
        h.error_code("image_cost", json!({"path": wide})),
        "no_vision_encoder"
    );
}

#[test]
fn an_image_removed_from_the_composer_goes_unless_something_else_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let png = solid_image(20, 10, [9, 8, 7], image::ImageFormat::Png);
    // The same picture in two thumbnails: one file, two holds.
    let a = invoke_raw(&h, "import_image_bytes", png.clone(), Some("a.png")).unwrap();
    let b = invoke_raw(&h, "import_image_bytes", png.clone(), Some("b.png")).unwrap();
    let file = PathBuf::from(a["file"].as_str().unwrap());
    assert_eq!(a["file"], b["file"]);
    let discard = |path: &Value| h.invoke("discard_image", json!({ "path": path }));
    assert_eq!(discard(&a["file"]).unwrap(), true);
    assert!(file.is_file(), "the other thumbnail still shows it");
    assert_eq!(discard(&b["file"]).unwrap(), true);
    assert!(!file.exists(), "nothing keeps it any more");
    assert_eq!(discard(&a["file"]).unwrap(), false, "no hold is left");

    // Sent, a conversation names it: a late discard (the UI's, after a send) keeps the file.
    h.load_tiny();
    let conv = h.new_conversation();
    let c = invoke_raw(&h, "import_image_bytes", png, Some("c.png")).unwrap();
    let sent = PathBuf::from(c["file"].as_str().unwrap());
    h.send(
        &conv,
        "What is it?",
        &[c["file"].as_str().unwrap().to_string()],
        json!({"maxNewTokens": 2}),
    )
    .unwrap();
    h.wait_end();
    assert_eq!(discard(&c["file"]).unwrap(), false);
    assert!(sent.is_file());

    // Only the store's own files: a path elsewhere is refused, and nothing there is touched.
    let outside = dir.path().join("outside.png");
    std::fs::write(&outside, "x").unwrap();
    for path in [
        outside.display().to_string(),
        format!("{}/../outside.png", dir.path().join("images").display()),
    ] {
        assert_eq!(
            h.error_code("discard_image", json!({ "path": path })),
            "invalid_input"
        );
    }
    assert!(outside.is_file());
}

#[test]
fn a_conversation_deleted_while_it_is_answered_keeps_its_images_until_the_answer_ends() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    h.load_tiny();
    let conv = h.new_conversation();
    let png = solid_image(24, 16, [40, 80, 120], image::ImageFormat::Png);
    let img = invoke_raw(&h, "import_image_bytes", png, Some("held.png")).unwrap();
    let file = PathBuf::from(img["file"].as_str().unwrap());
    let ticket = h
        .send(
            &conv,
            "Describe it forever",
            &[img["file"].as_str().unwrap().to_string()],
            json!({"maxNewTokens": 4000, "ignoreEos": true}),
        )
        .unwrap();
    h.wait_for(|e| e["type"] == "token");
    h.invoke("delete_conversation", json!({ "id": conv }))
        .unwrap();
    // The job still holds it: the worker (or a remote request) may not have read it yet.
    assert!(file.is_file(), "collected while its answer runs");
    h.invoke(
        "cancel_generation",
        json!({ "generationId": ticket["generationId"] }),
    )
    .unwrap();
    h.wait_end();
    // The job's hold goes with the job, and the collection it held back runs then.
    let start = std::time::Instant::now();
    while file.exists() {
        assert!(
            start.elapsed() < WAIT,
            "the deleted conversation's image stayed"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
