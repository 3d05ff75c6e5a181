//! PDF input from the command line: `generate --image doc.pdf --pages …` shows the model exactly
//! the pages `smolvlm pdf render` writes, in order; bad PDFs are clear errors with codes; `batch`
//! answers a PDF's pages in one line.

use std::path::Path;

use serde_json::Value;

mod common;
use common::{fixtures, json_of, model, smolvlm};

fn pdf(name: &str) -> String {
    fixtures().join("pdf").join(name).display().to_string()
}

/// `generate --json` with `images` (each an `--image`) and `extra` flags.
fn generate(images: &[&str], extra: &[&str]) -> Value {
    let model = model();
    let mut args = vec!["generate", "--model", &model];
    for image in images {
        args.extend(["--image", image]);
    }
    args.extend(extra);
    args.extend([
        "--prompt",
        "What is on this page?",
        "--max-new-tokens",
        "12",
        "--json",
    ]);
    let out = smolvlm(&args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out)
}

/// The longest edge PDF pages are shown at by default: the document preset, 5 × the tiny
/// model's 128-px tile (its own longest edge is 512).
const DOCUMENT_EDGE: &str = "640";

/// `smolvlm pdf render` of one page at the document preset's longest edge.
fn render(dir: &Path, file: &str, page: usize) -> String {
    render_at(dir, file, page, DOCUMENT_EDGE)
}

fn render_at(dir: &Path, file: &str, page: usize, edge: &str) -> String {
    let out_path = dir
        .join(format!("page{page}-{edge}.png"))
        .display()
        .to_string();
    let page_s = page.to_string();
    let out = smolvlm(&[
        "pdf",
        "render",
        file,
        "--page",
        &page_s,
        "--longest-edge",
        edge,
        "--out",
        &out_path,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out_path
}

#[test]
fn a_pdf_page_is_the_same_image_as_its_render() {
    let dir = tempfile::tempdir().unwrap();
    let doc = pdf("rotated.pdf");
    let page2 = render(dir.path(), &doc, 2);
    let png = image::open(&page2).unwrap();
    // Page 2 has /Rotate 90: landscape (A4), its longest edge the document preset's.
    assert_eq!((png.width(), png.height()), (640, 452));

    // A PDF's pages default to the document preset; an image file to the model's own edge.
    let from_pdf = generate(&[&doc], &["--pages", "2"]);
    let from_png = generate(&[&page2], &["--resolution", "document"]);
    assert_eq!(from_pdf["token_ids"], from_png["token_ids"]);
    assert_eq!(from_pdf["prompt_tokens"], from_png["prompt_tokens"]);
    assert_eq!(from_pdf["image_tokens"], from_png["image_tokens"]);
    assert!(from_pdf["image_tokens"].as_u64().unwrap() > 0);

    // Without --pages a PDF is its first page (portrait, a different image).
    let page1 = render(dir.path(), &doc, 1);
    let png1 = image::open(&page1).unwrap();
    assert_eq!((png1.width(), png1.height()), (452, 640));
    assert_eq!(
        generate(&[&doc], &[])["token_ids"],
        generate(&[&page1], &["--resolution", "document"])["token_ids"]
    );

    // Asked for, the standard preset renders the page at the model's own 512 px.
    let standard = render_at(dir.path(), &doc, 2, "512");
    let from_pdf = generate(&[&doc], &["--pages", "2", "--resolution", "standard"]);
    let from_png = generate(&[&standard], &[]);
    assert_eq!(from_pdf["token_ids"], from_png["token_ids"]);
    assert!(
        from_pdf["image_tokens"].as_u64()
            < generate(&[&doc], &["--pages", "2"])["image_tokens"].as_u64(),
        "the document preset shows a page in more tiles than the standard one"
    );
}

#[test]
fn several_pages_are_several_images_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let doc = pdf("rotated.pdf");
    let pngs: Vec<String> = [3, 1]
        .iter()
        .map(|&p| render(dir.path(), &doc, p))
        .collect();
    let from_pdf = generate(&[&doc], &["--pages", "3,1"]);
    let from_pngs = generate(&[&pngs[0], &pngs[1]], &["--resolution", "document"]);
    assert_eq!(from_pdf["token_ids"], from_pngs["token_ids"]);
    assert_eq!(from_pdf["image_tokens"], from_pngs["image_tokens"]);
    let one = generate(&[&doc], &["--pages", "3"]);
    assert_eq!(
        from_pdf["image_tokens"].as_u64().unwrap(),
        2 * one["image_tokens"].as_u64().unwrap()
    );
}

#[test]
fn bad_pdfs_fail_with_their_codes() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("cut.pdf");
    let bytes = std::fs::read(pdf("text.pdf")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let truncated = truncated.display().to_string();
    let model = model();
    for (file, pages, code) in [
        (pdf("encrypted.pdf"), "1", "pdf_encrypted"),
        (truncated, "1", "pdf_broken"),
        (pdf("text.pdf"), "2", "pdf_no_such_page"),
    ] {
        let out = smolvlm(&[
            "generate", "--model", &model, "--image", &file, "--pages", pages, "--prompt", "hi",
            "--json",
        ]);
        assert!(!out.status.success(), "{file}");
        let v = json_of(&out);
        assert_eq!(v["error"]["code"], code, "{file}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(&file),
            "{v}"
        );
    }
    // --pages with no PDF is a mistake, not silently ignored.
    let png = fixtures().join("tiny-smolvlm/img_wide_300x200.png");
    let out = smolvlm(&[
        "generate",
        "--model",
        &model,
        "--image",
        &png.display().to_string(),
        "--pages",
        "2",
        "--prompt",
        "hi",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--pages"));
    // A malformed list is refused by the flag parser.
    let out = smolvlm(&[
        "generate", "--model", &model, "--pages", "3-1", "--prompt", "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn render_at_a_dpi_has_poppler_pixel_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("p.png");
    let out = smolvlm(&[
        "pdf",
        "render",
        &pdf("rotated.pdf"),
        "--page",
        "4",
        "--dpi",
        "40",
        "--out",
        &out_path.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = image::open(&out_path).unwrap();
    let poppler = image::open(fixtures().join("pdf/ref/rotated-4.png")).unwrap();
    assert_eq!(ours.width(), poppler.width());
    assert_eq!(ours.height(), poppler.height());

    let out = smolvlm(&["pdf", "info", &pdf("rotated.pdf"), "--json"]);
    assert!(out.status.success());
    let v = json_of(&out);
    assert_eq!(v["pages"].as_array().unwrap().len(), 4);
    assert_eq!(v["pages"][1]["width_pt"], 842.0);
}

#[test]
fn batch_answers_a_pdf_in_one_line_as_generate_does() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::copy(pdf("rotated.pdf"), docs.join("a.pdf")).unwrap();
    std::fs::copy(pdf("encrypted.pdf"), docs.join("b.pdf")).unwrap();
    let out_path = dir.path().join("out.jsonl");
    let model = model();
    let out = smolvlm(&[
        "batch",
        "--model",
        &model,
        "--prompt",
        "What is on this page?",
        "--max-new-tokens",
        "12",
        "--pages",
        "2,1",
        "--out",
        &out_path.display().to_string(),
        &docs.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = std::fs::read_to_string(&out_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0]["file"].as_str().unwrap().ends_with("a.pdf"));
    assert_eq!(lines[1]["error"]["code"], "pdf_encrypted");
    let a = docs.join("a.pdf").display().to_string();
    let want = generate(&[&a], &["--pages", "2,1"]);
    assert_eq!(lines[0]["token_ids"], want["token_ids"]);
    assert_eq!(lines[0]["image_tokens"], want["image_tokens"]);
}
