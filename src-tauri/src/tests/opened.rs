//! "Open with": files named on the command line, and those a second launch forwards, are the
//! user's and wait for the UI to take them, once.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tauri::Listener;

use super::harness::*;
use crate::AppOptions;
use crate::forwarded;
use crate::opened::FILES_OPENED_EVENT;

/// A copy of a fixture in `dir`: no test drops it, so only being opened can grant it.
fn copy_of(fixture: String, dir: &std::path::Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(fixture, &to).unwrap();
    to
}

#[test]
fn files_the_app_opens_with_are_readable_and_taken_once() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().canonicalize().unwrap().join("files");
    std::fs::create_dir(&files).unwrap();
    let image = copy_of(fixture_image("img_wide_300x200.png"), &files, "opened.png");
    let pdf = copy_of(fixture_pdf("text.pdf"), &files, "opened.pdf");
    let never = copy_of(fixture_image("img_tall_96x300.png"), &files, "never.png");
    let data = dir.path().join("app");
    let h = Harness::with_options(
        &data,
        AppOptions {
            data_dir: Some(data.clone()),
            hub: Some(hermetic_hub(&data)),
            open_files: vec![image.clone(), pdf.clone()],
            ..AppOptions::default()
        },
    );
    let s = |p: &PathBuf| p.display().to_string();
    assert_eq!(
        h.invoke("take_opened_files", json!({})).unwrap(),
        json!([s(&image), s(&pdf)])
    );
    assert_eq!(h.invoke("take_opened_files", json!({})).unwrap(), json!([]));
    // Granted like a drop: the UI attaches them the way it attaches dropped files.
    h.invoke("import_image", json!({"path": s(&image)}))
        .unwrap();
    h.invoke("open_pdf", json!({"path": s(&pdf)})).unwrap();
    assert_eq!(
        h.error_code("import_image", json!({"path": s(&never)})),
        "path_not_allowed"
    );
}

#[test]
fn a_second_launch_hands_its_files_to_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    let image = copy_of(fixture_image("img_wide_300x200.png"), &cwd, "second.png");
    let h = Harness::new(&cwd.join("app"));
    let heard = Arc::new(Mutex::new(0));
    let count = heard.clone();
    h.app
        .listen_any(FILES_OPENED_EVENT, move |_| *count.lock().unwrap() += 1);
    let argv = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();

    // Its program name, a flag and a relative path, resolved against its working folder.
    forwarded(
        h.app.handle(),
        argv(&[
            "/usr/bin/smolvlm-desktop",
            "--new",
            "second.png",
            "notes.txt",
        ]),
        cwd.display().to_string(),
    );
    assert_eq!(*heard.lock().unwrap(), 1);
    let taken = h.invoke("take_opened_files", json!({})).unwrap();
    assert_eq!(taken, json!([image.display().to_string()]));
    h.invoke("import_image", json!({"path": taken[0]})).unwrap();

    // A launch with no file only brings the window forward: nothing to take, no event.
    forwarded(
        h.app.handle(),
        argv(&["/usr/bin/smolvlm-desktop"]),
        cwd.display().to_string(),
    );
    assert_eq!(*heard.lock().unwrap(), 1);
    assert_eq!(h.invoke("take_opened_files", json!({})).unwrap(), json!([]));
}

/// The installers declare the file types "Open with" offers the app for (`bundle.fileAssociations`
/// in tauri.conf.json: MIME types on Linux, extensions on macOS and Windows); the app must take
/// exactly those.
#[test]
fn the_packages_associate_the_types_the_app_takes() {
    let conf: serde_json::Value =
        serde_json::from_str(include_str!("../../../tauri.conf.json")).unwrap();
    let mut declared: Vec<String> = conf["bundle"]["fileAssociations"]
        .as_array()
        .expect("bundle.fileAssociations")
        .iter()
        .flat_map(|a| a["ext"].as_array().unwrap().iter())
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    declared.sort();
    let mut taken: Vec<String> = crate::validate::ATTACHMENT_EXTENSIONS
        .iter()
        .map(|e| e.to_string())
        .collect();
    taken.sort();
    assert_eq!(declared, taken);
}
