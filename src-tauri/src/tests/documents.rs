//! PDFs: opening one, its pages' costs and thumbnails, rendering chosen pages into the image
//! store, sending them, and every bad file a typed error.

use serde_json::{Value, json};

use super::harness::*;

fn open(h: &Harness, name: &str) -> Value {
    h.invoke("open_pdf", json!({"path": fixture_pdf(name)}))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn chosen_pages_are_rendered_priced_sent_and_kept_with_their_pdf() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let info = open(&h, "rotated.pdf");
    let id = info["id"].as_str().unwrap().to_string();
    assert_eq!(info["name"], "rotated.pdf");
    let pages = info["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 4);
    // Page 2 has /Rotate 90: its displayed size is A4 landscape.
    assert_eq!(
        (&pages[1]["widthPt"], &pages[1]["number"]),
        (&json!(842.0), &json!(2))
    );

    // Costs need the model; thumbnails and renders do not.
    assert_eq!(
        h.error_code("pdf_page_costs", json!({"id": id})),
        "no_model_loaded"
    );
    let thumb = h
        .invoke("pdf_thumbnail", json!({"id": id, "page": 2}))
        .unwrap();
    let png = thumb
        .as_str()
        .unwrap()
        .strip_prefix("data:image/png;base64,")
        .expect("a PNG data URL");
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD
        .decode(png)
        .unwrap();
    let small = image::load_from_memory(&png).unwrap();
    assert_eq!(small.width().max(small.height()), 240);
    assert!(small.width() > small.height(), "page 2 is landscape");

    h.load_tiny();
    // The document preset by default: 5 tiles of the tiny model's 128 px.
    let costs = h.invoke("pdf_page_costs", json!({"id": id})).unwrap();
    assert_eq!(costs["longestEdge"], 640);
    assert_eq!(costs["pages"].as_array().unwrap().len(), 4);
    assert!(costs["budgetTokens"].as_u64().unwrap() > 0);
    let standard = h
        .invoke("pdf_page_costs", json!({"id": id, "longestEdge": 512}))
        .unwrap();
    assert!(
        standard["pages"][1]["tokens"].as_u64() < costs["pages"][1]["tokens"].as_u64(),
        "fewer tiles at the standard edge: {standard} vs {costs}"
    );

    // Pages 3 and 2, in that order, rendered at the document edge into the image store.
    let mut images = Vec::new();
    for page in [3, 2] {
        let img = h
            .invoke("import_pdf_page", json!({"id": id, "page": page}))
            .unwrap();
        assert_eq!(
            img["page"],
            json!({"document": "rotated.pdf", "page": page, "pages": 4})
        );
        assert_eq!(img["originalName"], format!("rotated.pdf — page {page}"));
        assert_eq!(img["width"].as_u64().max(img["height"].as_u64()), Some(640));
        let c = &costs["pages"][page - 1];
        assert_eq!((&img["width"], &img["height"]), (&c["width"], &c["height"]));
        images.push(img);
    }
    assert!(
        h.invoke("close_pdf", json!({"id": id}))
            .unwrap()
            .as_bool()
            .unwrap()
    );
    assert_eq!(
        h.error_code("pdf_thumbnail", json!({"id": id, "page": 1})),
        "not_found"
    );

    // Sent with the document edge, the prompt has exactly the tokens announced.
    let conv = h.new_conversation();
    let ticket = h
        .send_images(
            &conv,
            "What do these pages say?",
            json!(images),
            json!({"maxNewTokens": 2, "longestEdge": 640}),
        )
        .unwrap();
    let events = h.wait_end();
    let announced = costs["pages"][2]["tokens"].as_u64().unwrap()
        + costs["pages"][1]["tokens"].as_u64().unwrap();
    assert_eq!(
        events[0]["imageTokens"].as_u64(),
        Some(announced),
        "{events:?}"
    );
    assert_eq!(ticket["userMessage"]["images"][0]["page"]["page"], 3);

    // Reopened, the conversation has both pages, in order, with their PDF's name.
    let c = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    let kept = c["messages"][0]["images"].as_array().unwrap();
    assert_eq!(kept.len(), 2);
    for (image, page) in kept.iter().zip([3, 2]) {
        assert_eq!(image["page"]["document"], "rotated.pdf");
        assert_eq!(image["page"]["page"], page);
        assert_eq!(image["originalName"], format!("rotated.pdf — page {page}"));
        assert!(std::path::Path::new(image["file"].as_str().unwrap()).is_file());
    }
}

#[test]
fn bad_pdfs_and_bad_requests_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    assert_eq!(
        h.error_code("open_pdf", json!({"path": fixture_pdf("encrypted.pdf")})),
        "pdf_encrypted"
    );
    let bytes = std::fs::read(fixture_pdf("text.pdf")).unwrap();
    let cut = dir.path().join("cut.pdf");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let not_pdf = dir.path().join("notes.pdf");
    std::fs::write(&not_pdf, "just text").unwrap();
    let missing = dir.path().join("missing.pdf");
    // Dropped, so each is refused for what it is (tests::access: paths never dropped).
    h.drop_paths([cut.clone(), not_pdf.clone(), missing.clone()]);
    assert_eq!(h.error_code("open_pdf", json!({"path": cut})), "pdf_broken");
    assert_eq!(
        h.error_code("open_pdf", json!({"path": not_pdf})),
        "pdf_broken"
    );
    assert_eq!(
        h.error_code("open_pdf", json!({"path": missing})),
        "pdf_unreadable"
    );
    assert_eq!(
        h.error_code("open_pdf", json!({"path": "relative.pdf"})),
        "invalid_input"
    );
    // A paste: the same checks on bytes.
    let pasted = invoke_raw(&h, "open_pdf_bytes", bytes.clone(), Some("scan%201.pdf")).unwrap();
    assert_eq!(pasted["name"], "scan 1.pdf");
    let err = invoke_raw(&h, "open_pdf_bytes", bytes[..100].to_vec(), None).unwrap_err();
    assert_eq!(err["code"], "pdf_broken");

    let id = pasted["id"].as_str().unwrap();
    for page in [0, 99] {
        assert_eq!(
            h.error_code("import_pdf_page", json!({"id": id, "page": page})),
            "pdf_no_such_page"
        );
    }
    assert_eq!(
        h.error_code("pdf_thumbnail", json!({"id": "../x", "page": 1})),
        "invalid_input"
    );
    // A page reference that names a page past its PDF's end is refused, nothing stored.
    let img = h
        .invoke("import_pdf_page", json!({"id": id, "page": 1}))
        .unwrap();
    h.load_tiny();
    let conv = h.new_conversation();
    let mut bad = img.clone();
    bad["page"]["page"] = json!(7);
    assert_eq!(
        h.send_images(&conv, "Hi", json!([bad]), json!({}))
            .unwrap_err()["code"],
        "invalid_input"
    );
    let c = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    assert_eq!(c["messages"].as_array().unwrap().len(), 0);
}
