//! PDFs through the API: `file` parts (OpenAI's shape) and `image_url`s holding a PDF, each
//! chosen page rendered at the answering model's document edge; the same tokens as the page's
//! own PNG at that edge; bad PDFs refused with `pdf_*` codes naming their field.

mod common;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use common::{post, serve};
use serde_json::{Value, json};
use smolvlm::CancelToken;
use smolvlm_pdf::{Document, Limits};

/// The tiny model's document edge: 5 tiles of 128 px.
const DOCUMENT_EDGE: u32 = 640;

fn pdf(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/pdf")
        .join(name)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn pdf_data_url(name: &str) -> String {
    format!(
        "data:application/pdf;base64,{}",
        b64(&std::fs::read(pdf(name)).unwrap())
    )
}

fn ask(part: Value) -> Value {
    json!({
        "messages": [{"role": "user", "content": [part, {"type": "text", "text": "Read this."}]}],
        "max_tokens": 8, "temperature": 0
    })
}

fn file_part(name: &str, pages: Option<&str>) -> Value {
    let mut file = json!({"file_data": pdf_data_url(name), "filename": name});
    if let Some(p) = pages {
        file["pages"] = json!(p);
    }
    json!({"type": "file", "file": file})
}

fn ids(v: &Value) -> Vec<u64> {
    v["smolvlm"]["token_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

fn page_png(name: &str, page: usize) -> Vec<u8> {
    let doc = Document::open_file(&pdf(name), &Limits::default()).unwrap();
    doc.render(page - 1, DOCUMENT_EDGE, &CancelToken::new())
        .unwrap()
        .to_png()
        .unwrap()
}

#[test]
fn a_pdf_page_answers_as_its_own_render_does() {
    let s = common::start();
    let by_file = post(&s, &ask(file_part("rotated.pdf", Some("2"))));
    assert_eq!(by_file.status, 200, "{}", by_file.text);
    let by_file = by_file.json();
    // The same page as a PNG, with the server resizing images to the document edge.
    let png_server = serve(common::Options::default(), |c| {
        c.default_longest_edge = Some(DOCUMENT_EDGE)
    });
    let png = format!("data:image/png;base64,{}", b64(&page_png("rotated.pdf", 2)));
    let by_png = post(
        &png_server,
        &ask(json!({"type": "image_url", "image_url": {"url": png}})),
    );
    assert_eq!(by_png.status, 200, "{}", by_png.text);
    let by_png = by_png.json();
    assert_eq!(ids(&by_file), ids(&by_png));
    assert_eq!(by_file["usage"], by_png["usage"]);
    // `serve --resolution document` names that edge from the model's tile.
    let preset_server = serve(common::Options::default(), |c| {
        c.resolution = Some(smolvlm::image::Resolution::Document)
    });
    let by_preset = post(
        &preset_server,
        &ask(json!({"type": "image_url", "image_url": {"url": png}})),
    );
    assert_eq!(by_preset.json()["usage"], by_png["usage"]);
    assert!(by_file["smolvlm"]["image_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn every_page_is_shown_when_none_is_chosen_and_image_urls_may_hold_pdfs() {
    let s = common::start();
    let one = |part: Value| {
        let r = post(&s, &ask(part));
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["smolvlm"]["image_tokens"].as_u64().unwrap()
    };
    let page = |n: &str| one(file_part("rotated.pdf", Some(n)));
    let (p1, p2) = (page("1"), page("2"));
    let all = one(file_part("rotated.pdf", None));
    // Pages 1 and 3 are portrait, 2 and 4 landscape.
    assert_eq!(all, 2 * p1 + 2 * p2);
    let path = pdf("rotated.pdf").canonicalize().unwrap();
    let by_path =
        one(json!({"type": "image_url", "image_url": {"url": path.display().to_string()}}));
    let by_url =
        one(json!({"type": "image_url", "image_url": {"url": pdf_data_url("rotated.pdf")}}));
    assert_eq!((by_path, by_url), (all, all));
}

#[test]
fn bad_pdfs_and_file_parts_are_refused_naming_their_field() {
    let s = common::start();
    let param = "messages[0].content[0]";
    let refused = |part: Value, status: u16, code: &str| {
        let r = post(&s, &ask(part));
        let e = r.error(status, "invalid_request_error", code);
        assert_eq!(e["param"], param, "{e}");
        e["message"].as_str().unwrap().to_string()
    };
    let m = refused(file_part("encrypted.pdf", None), 400, "pdf_encrypted");
    assert!(m.starts_with("encrypted.pdf: "), "{m}");
    let text = std::fs::read(pdf("text.pdf")).unwrap();
    let cut = format!(
        "data:application/pdf;base64,{}",
        b64(&text[..text.len() / 2])
    );
    refused(
        json!({"type": "file", "file": {"file_data": cut, "filename": "cut.pdf"}}),
        400,
        "pdf_broken",
    );
    refused(file_part("text.pdf", Some("3")), 400, "pdf_no_such_page");
    refused(file_part("text.pdf", Some("2-1")), 400, "invalid_pages");
    let m = refused(
        file_part("text.pdf", Some(&vec!["1"; 120].join(","))),
        400,
        "context_length_exceeded",
    );
    assert!(m.contains("choose fewer pages"), "{m}");
    let png = format!(
        "data:image/png;base64,{}",
        b64(&std::fs::read(common::fixture().join("img_wide_300x200.png")).unwrap())
    );
    refused(
        json!({"type": "file", "file": {"file_data": png}}),
        400,
        "unsupported_file",
    );
    refused(
        json!({"type": "file", "file": {"file_id": "file-abc"}}),
        400,
        "unsupported_file_id",
    );
}

#[test]
fn a_pdf_for_a_model_not_loaded_is_sized_from_that_model_s_files() {
    let s = common::start();
    let tokens = |model: &str| {
        let mut body = ask(file_part("text.pdf", None));
        body["model"] = json!(model);
        let r = post(&s, &body);
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["smolvlm"]["image_tokens"].as_u64().unwrap()
    };
    // The GGUF pair's mmproj gives the same processor as the folder's files.
    let from_gguf = tokens("tiny-q8");
    assert_eq!(from_gguf, tokens("tiny"));
    assert!(from_gguf > 0);
}
