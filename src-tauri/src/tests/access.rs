//! What the webview may read: files the user dropped or picked and the image store's own, never
//! any path it names; and how stored images are served to it.

use std::path::Path;

use serde_json::{Value, json};
use tauri::Emitter;

use super::harness::*;
use crate::AppOptions;

/// Every command that reads a path the webview names, with `path` as that path.
fn readers(conv: &str, path: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("import_image", json!({"path": path})),
        ("image_cost", json!({"path": path})),
        ("open_pdf", json!({"path": path})),
        ("add_local_model", json!({"path": path})),
        ("load_model", json!({"path": path})),
        (
            "send_message",
            json!({
                "conversationId": conv,
                "text": "Hi",
                "images": [path],
                "settings": {},
                "onEvent": format!("__CHANNEL__:{CHANNEL_ID}"),
            }),
        ),
        (
            "send_message",
            json!({
                "conversationId": conv,
                "text": "Hi",
                "images": [{"file": path, "originalName": "x.png"}],
                "settings": {},
                "onEvent": format!("__CHANNEL__:{CHANNEL_ID}"),
            }),
        ),
    ]
}

#[test]
fn paths_the_user_did_not_hand_over_are_refused_alike_whether_they_exist_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(&dir.path().join("app"));
    h.load_tiny();
    let conv = h.new_conversation();
    let outside = dir.path().join("secret.png");
    std::fs::copy(fixture_image("img_wide_300x200.png"), &outside).unwrap();
    let pdf = dir.path().join("secret.pdf");
    std::fs::copy(fixture_pdf("text.pdf"), &pdf).unwrap();
    let missing = dir.path().join("missing.png");
    let not_image = dir.path().join("notes.png");
    std::fs::write(&not_image, "text").unwrap();

    for path in [
        &outside,
        &pdf,
        &missing,
        &not_image,
        &dir.path().to_path_buf(),
    ] {
        let p = path.display().to_string();
        for (cmd, args) in readers(&conv, &p) {
            let err = h.invoke(cmd, args.clone()).unwrap_err();
            assert_eq!(err["code"], "path_not_allowed", "{cmd} {p}: {err}");
            // The same words for every path: nothing tells what is there.
            let words = err["message"].as_str().unwrap().replace(&p, "<path>");
            assert_eq!(
                words, "<path>: not a file dropped on the app or chosen in its file dialog",
                "{cmd}"
            );
        }
    }
    // Nothing reached the store or the conversation.
    assert_eq!(std::fs::read_dir(h.dir.join("images")).unwrap().count(), 0);
    let c = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    assert_eq!(c["messages"], json!([]));

    // Once dropped, the same paths are read, and their errors say what they are.
    h.drop_paths([&outside, &pdf, &missing, &not_image]);
    let img = h
        .invoke(
            "import_image",
            json!({"path": outside.display().to_string()}),
        )
        .unwrap();
    assert_eq!(img["width"], 300);
    // The stored copy is the store's own: it needs no drop.
    let stored = img["file"].as_str().unwrap();
    assert_eq!(
        h.invoke("image_cost", json!({"path": stored})).unwrap()["width"],
        300
    );
    let info = h
        .invoke("open_pdf", json!({"path": pdf.display().to_string()}))
        .unwrap();
    assert!(!info["pages"].as_array().unwrap().is_empty(), "{info}");
    let code = |cmd: &str, p: &Path| h.error_code(cmd, json!({"path": p.display().to_string()}));
    assert_eq!(code("import_image", &missing), "not_found");
    assert_eq!(code("image_cost", &not_image), "not_an_image");
    h.send(
        &conv,
        "Hi",
        &[stored.to_string()],
        json!({"maxNewTokens": 1}),
    )
    .unwrap();
    assert_eq!(h.wait_end().last().unwrap()["type"], "done");
    // A name in the store is taken by its name alone, never a way out of it.
    let sneaky = h.dir.join("images").join("..").join("settings.json");
    assert_eq!(code("image_cost", &sneaky), "path_not_allowed");
}

#[test]
fn drops_the_page_emits_count_only_under_automation() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("dropped.png");
    std::fs::copy(fixture_image("img_wide_300x200.png"), &image).unwrap();
    let payload = json!({"paths": [image], "position": {"x": 1, "y": 2}});
    for (trusted, code) in [(false, Some("path_not_allowed")), (true, None)] {
        let data = dir.path().join(format!("app-{trusted}"));
        let h = Harness::with_options(
            &data,
            AppOptions {
                data_dir: Some(data.clone()),
                hub: Some(hermetic_hub(&data)),
                trust_page_drops: trusted,
                ..AppOptions::default()
            },
        );
        // What `plugin:event|emit` from the page does (tests/e2e/lib/app.mjs `drop`).
        h.webview
            .emit(crate::DRAG_DROP_EVENT, payload.clone())
            .unwrap();
        let got = h.invoke("import_image", json!({"path": image.display().to_string()}));
        assert_eq!(
            got.err()
                .map(|e| e["code"].as_str().unwrap().to_string())
                .as_deref(),
            code,
            "trusted: {trusted}"
        );
    }
}

/// The webview cannot open the dialog itself (what it picked there the backend would not know),
/// and holds events only (`ui/src/security-config.test.ts` checks the rest of the capability);
/// it asks `pick_files`.
#[test]
fn the_webview_has_no_dialog_permission() {
    let cap: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("src-tauri/capabilities/main.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(cap["permissions"], json!(["core:event:default"]));
    // What the dialog answers is recorded as the user's.
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(&dir.path().join("app"));
    let picked = dir.path().join("picked.png");
    std::fs::copy(fixture_image("img_wide_300x200.png"), &picked).unwrap();
    let answered = h.state().grants.hand_over(vec![picked.clone()]);
    assert_eq!(answered, [picked.display().to_string()]);
    h.invoke("import_image", json!({"path": answered[0]}))
        .unwrap();
}

/// tauri's asset protocol is off (its scope grows with every drop and pick); the CSP lets images
/// come from the app's own scheme, which serves the store by name.
#[test]
fn images_are_served_by_the_apps_scheme_not_the_asset_protocol() {
    let conf: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("tauri.conf.json")).unwrap())
            .unwrap();
    let security = &conf["app"]["security"];
    assert!(
        security["assetProtocol"]["enable"] != json!(true),
        "{security}"
    );
    let img_src = security["csp"]["img-src"].as_str().unwrap();
    assert!(
        img_src.contains(&format!("{}:", crate::image_protocol::SCHEME)),
        "{img_src}"
    );
    assert!(!img_src.contains("asset:"), "{img_src}");

    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let img = h
        .invoke(
            "import_image",
            json!({"path": fixture_image("img_wide_300x200.png")}),
        )
        .unwrap();
    let file = Path::new(img["file"].as_str().unwrap());
    let name = file.file_name().unwrap().to_str().unwrap();
    let served = crate::image_protocol::serve(&h.state().store.images_dir(), &format!("/{name}"));
    assert_eq!(served.status(), 200);
    assert_eq!(served.body(), &std::fs::read(file).unwrap());
    // A dropped file is the backend's to read, never the webview's.
    let dropped = fixture_image("img_tall_96x300.png");
    let served =
        crate::image_protocol::serve(&h.state().store.images_dir(), &format!("/{dropped}"));
    assert_eq!(served.status(), 404);
}

/// A model folder is loaded once the user dropped it, and at the next start as the last model;
/// never before.
#[test]
fn a_model_folder_loads_once_handed_over_and_again_as_the_last_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("elsewhere");
    std::fs::create_dir(&model).unwrap();
    for entry in std::fs::read_dir(tiny_dir()).unwrap() {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(entry.path(), model.join(entry.file_name())).unwrap();
    }
    let path = json!({"path": model.display().to_string()});
    let h = Harness::new(&dir.path().join("app"));
    assert_eq!(h.error_code("load_model", path.clone()), "path_not_allowed");
    h.drop_paths([&model]);
    h.invoke("load_model", path.clone()).unwrap();
    drop(h);
    let next = Harness::new(&dir.path().join("app"));
    assert_eq!(next.invoke("load_model", path).unwrap()["device"], "cpu");
}
