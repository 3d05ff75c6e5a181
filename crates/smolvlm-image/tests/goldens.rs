//! Checks against `tests/fixtures/processor/goldens.json`, written by transformers 5.24 /
//! Pillow 13 (`scripts/fixtures/make_processor_goldens.py`).

use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};
use smolvlm_image::{
    Filter, ImageLimits, ImageProcessor, ProcessorConfig, load_image_file, resample,
};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/processor")
}

fn goldens() -> Value {
    let text = std::fs::read_to_string(fixtures().join("goldens.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn pair(v: &Value) -> (u32, u32) {
    (v[0].as_u64().unwrap() as u32, v[1].as_u64().unwrap() as u32)
}

fn processor(cfg: &Value) -> ImageProcessor {
    ImageProcessor::new(ProcessorConfig {
        longest_edge: cfg["longest_edge"].as_u64().unwrap() as u32,
        tile_size: cfg["tile_size"].as_u64().unwrap() as u32,
        do_image_splitting: cfg["do_image_splitting"].as_bool().unwrap(),
        resample: cfg["resample"].as_u64().unwrap() as u32,
        ..ProcessorConfig::default()
    })
}

/// Every (config, image) pair: geometry, frame bytes and pixel sums as transformers made them.
#[test]
fn processor_matches_transformers() {
    let g = goldens();
    let mut images = std::collections::HashMap::new();
    let mut failures = Vec::new();
    for case in g["processor"].as_array().unwrap() {
        let cname = case["config"].as_str().unwrap();
        let iname = case["image"].as_str().unwrap();
        let proc = processor(&g["configs"][cname]);
        let img = images.entry(iname.to_string()).or_insert_with(|| {
            load_image_file(
                &fixtures().join("images").join(iname),
                &ImageLimits::default(),
            )
            .unwrap()
        });
        assert_eq!(img.dimensions(), pair(&case["size"]), "{iname}");
        let plan = proc.plan(img.width(), img.height());
        let what = format!("{cname} {iname}");
        assert_eq!(plan.resized, pair(&case["resized"]), "{what} resized");
        assert_eq!(plan.grid, pair(&case["grid"]), "{what} grid");
        assert_eq!(
            plan.rows as u64,
            case["rows"].as_u64().unwrap(),
            "{what} rows"
        );
        assert_eq!(
            plan.cols as u64,
            case["cols"].as_u64().unwrap(),
            "{what} cols"
        );
        assert_eq!(
            plan.frames as u64,
            case["frames"].as_u64().unwrap(),
            "{what} frames"
        );

        let out = proc.process(img).unwrap();
        assert_eq!(out.plan, plan, "{what}");
        let want: Vec<&str> = case["frame_sha256"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let got: Vec<String> = out.frames.iter().map(|f| sha(f.as_raw())).collect();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if g != w {
                failures.push(format!("{what} frame {i}"));
            }
        }
        assert_eq!(got.len(), want.len(), "{what}");

        let pv = out.pixel_values(proc.config());
        let t = proc.config().tile_size as usize;
        assert_eq!(pv.len(), plan.frames * 3 * t * t);
        let sum: f64 = pv.iter().map(|&v| f64::from(v)).sum();
        let want_sum = case["pixel_values_sum"].as_f64().unwrap();
        if (sum - want_sum).abs() > 1e-3 * want_sum.abs().max(1.0) {
            failures.push(format!("{what}: sum {sum} vs {want_sum}"));
        }
    }
    assert!(failures.is_empty(), "frames differ: {failures:#?}");
}

/// Pillow's `Image.resize` for every filter, up and down, on noise and on black/white.
#[test]
fn resample_matches_pillow() {
    let g = goldens();
    let mut failures = Vec::new();
    for case in g["resample"].as_array().unwrap() {
        let name = case["image"].as_str().unwrap();
        let img = load_image_file(
            &fixtures().join("resample").join(name),
            &ImageLimits::default(),
        )
        .unwrap();
        let filter = Filter::from_pil(case["filter"].as_u64().unwrap() as u32).unwrap();
        let (w, h) = pair(&case["size"]);
        let out = resample::resize(&img, w, h, filter);
        assert_eq!(out.dimensions(), (w, h));
        if sha(out.as_raw()) != case["sha256"].as_str().unwrap() {
            failures.push(format!("{name} {filter:?} {w}x{h}"));
        }
    }
    assert!(
        failures.is_empty(),
        "resize differs from Pillow: {failures:#?}"
    );
}

/// Largest per-sample difference allowed between our lossy-WebP decoder and Pillow's (libwebp);
/// JPEGs must match exactly. See `lossy_formats_within_tolerance`.
const LOSSY_MAX_ABS: u8 = 4;
/// Largest allowed mean absolute difference per sample for lossy formats.
const LOSSY_MEAN_ABS: f64 = 0.6;

#[test]
fn lossless_formats_match_exactly() {
    let g = goldens();
    let mut failures = Vec::new();
    for case in g["formats"].as_array().unwrap() {
        if case["lossy"].as_bool().unwrap() {
            continue;
        }
        let name = case["file"].as_str().unwrap();
        let img = match load_image_file(
            &fixtures().join("formats").join(name),
            &ImageLimits::default(),
        ) {
            Ok(img) => img,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        if img.dimensions() != pair(&case["size"])
            || sha(img.as_raw()) != case["sha256"].as_str().unwrap()
        {
            failures.push(name.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "decoded differently from Pillow: {failures:#?}"
    );
}

#[test]
fn lossy_formats_within_tolerance() {
    let g = goldens();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for case in g["formats"].as_array().unwrap() {
        if !case["lossy"].as_bool().unwrap() {
            continue;
        }
        let name = case["file"].as_str().unwrap();
        let dir = fixtures().join("formats");
        let img = load_image_file(&dir.join(name), &ImageLimits::default()).unwrap();
        assert_eq!(img.dimensions(), pair(&case["size"]), "{name}");
        let want = std::fs::read(dir.join(case["rgb"].as_str().unwrap())).unwrap();
        let got = img.as_raw();
        assert_eq!(got.len(), want.len());
        let max = got
            .iter()
            .zip(&want)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        let mean = got
            .iter()
            .zip(&want)
            .map(|(a, b)| f64::from(a.abs_diff(*b)))
            .sum::<f64>()
            / got.len() as f64;
        report.push(format!("{name}: max {max} mean {mean:.3}"));
        // JPEG goes through libjpeg-turbo as Pillow drives it: nothing may differ.
        let exact = name.ends_with(".jpg");
        if (exact && max != 0) || max > LOSSY_MAX_ABS || mean > LOSSY_MEAN_ABS {
            failures.push(format!("{name}: max {max} mean {mean:.3}"));
        }
    }
    eprintln!("{report:#?}");
    assert!(
        failures.is_empty(),
        "lossy decode too far from Pillow: {failures:#?}"
    );
}

/// The reference fixture's `case1.pixel_values` (transformers, img_wide_300x200.png).
#[test]
fn tiny_smolvlm_pixel_values() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-smolvlm");
    let cfg = ProcessorConfig::from_dir(&dir).unwrap();
    let proc = ImageProcessor::new(cfg);
    let img = load_image_file(&dir.join("img_wide_300x200.png"), &ImageLimits::default()).unwrap();
    let out = proc.process(&img).unwrap();
    assert_eq!((out.plan.rows, out.plan.cols, out.plan.frames), (3, 4, 13));
    let pv = out.pixel_values(proc.config());

    let bytes = std::fs::read(dir.join("golden.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("case1.pixel_values").unwrap();
    assert_eq!(t.shape(), &[1, 13, 3, 128, 128]);
    assert_eq!(t.dtype(), safetensors::Dtype::F32);
    let want: Vec<f32> = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(pv.len(), want.len());
    let max = pv
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(max <= 1e-6, "max abs diff {max}");
}
