//! A full disk during every kind of save (an injected ENOSPC, `store::full_disk`, after half the
//! bytes are written): the command fails with `disk_full` and a message saying what to do, the
//! previous file survives byte for byte, no temporary file stays behind, and once space is free
//! the same save works.

use std::path::Path;

use serde_json::{Value, json};

use super::harness::*;
use crate::store::{MessageStatus, Store, full_disk};

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn png(rgb: [u8; 3]) -> Vec<u8> {
    solid_image(16, 16, rgb, image::ImageFormat::Png)
}

/// The error of a command refused by the full disk.
fn assert_disk_full(result: Result<Value, Value>) {
    let err = result.expect_err("the save should fail on a full disk");
    assert_eq!(err["code"], "disk_full", "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("the disk is full") && message.contains("free some space"),
        "{message}"
    );
}

#[test]
fn a_full_disk_fails_each_save_keeps_what_was_saved_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    h.load_tiny();
    let conv = h.new_conversation();
    h.send(&conv, "Hello", &[], json!({"maxNewTokens": 4}))
        .unwrap();
    assert_eq!(h.wait_end().last().unwrap()["type"], "done");
    h.invoke(
        "save_settings",
        json!({"settings": {"systemPrompt": "Be brief."}}),
    )
    .unwrap();
    let conv_file = dir
        .path()
        .join("conversations")
        .join(format!("{conv}.json"));
    let settings_file = dir.path().join("settings.json");
    let saved_conv = std::fs::read(&conv_file).unwrap();
    let saved_settings = std::fs::read(&settings_file).unwrap();
    let before = [
        files_in(dir.path()),
        files_in(&dir.path().join("conversations")),
        files_in(&dir.path().join("images")),
    ];

    full_disk::fill(dir.path());
    assert_disk_full(h.invoke(
        "rename_conversation",
        json!({"id": conv, "title": "Renamed"}),
    ));
    assert_disk_full(h.invoke(
        "save_settings",
        json!({"settings": {"systemPrompt": "Be long."}}),
    ));
    assert_disk_full(invoke_raw(
        &h,
        "import_image_bytes",
        png([1, 2, 3]),
        Some("paste.png"),
    ));
    assert_disk_full(h.send(&conv, "Again", &[], json!({"maxNewTokens": 4})));
    assert_disk_full(h.invoke("create_conversation", json!({})));
    assert_eq!(std::fs::read(&conv_file).unwrap(), saved_conv);
    assert_eq!(std::fs::read(&settings_file).unwrap(), saved_settings);
    let after = [
        files_in(dir.path()),
        files_in(&dir.path().join("conversations")),
        files_in(&dir.path().join("images")),
    ];
    assert_eq!(after, before, "a failed save left a file behind");
    // What the app shows is what is on disk.
    let settings = h.invoke("get_settings", json!({})).unwrap();
    assert_eq!(settings["systemPrompt"], "Be brief.");
    let shown = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    assert_eq!(shown["title"], "Hello");

    full_disk::free(dir.path());
    let renamed = h
        .invoke(
            "rename_conversation",
            json!({"id": conv, "title": "Renamed"}),
        )
        .unwrap();
    assert_eq!(renamed["title"], "Renamed");
    invoke_raw(&h, "import_image_bytes", png([1, 2, 3]), Some("paste.png")).unwrap();
}

/// The disk fills while an answer streams: its final save fails, the UI hears `save-failed`
/// (`disk_full`) before `done`, and the conversation keeps everything saved before; the next
/// start finds the answer interrupted, with the text of its last snapshot.
#[test]
fn a_disk_that_fills_while_an_answer_streams_keeps_the_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    h.load_tiny();
    let conv = h.new_conversation();
    h.send(&conv, "First", &[], json!({"maxNewTokens": 4}))
        .unwrap();
    let first = answer_text(&h.wait_end());
    h.events.lock().unwrap().clear();
    let ticket = h
        .send(
            &conv,
            "Second",
            &[],
            json!({"maxNewTokens": 2000, "ignoreEos": true}),
        )
        .unwrap();
    h.wait_for(|e| e["type"] == "token");
    full_disk::fill(dir.path());
    let events = h.wait_end();
    full_disk::free(dir.path());
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let failed = events
        .iter()
        .position(|e| e["type"] == "save-failed")
        .unwrap_or_else(|| panic!("no save-failed event: {types:?}"));
    assert_eq!(events[failed]["code"], "disk_full", "{}", events[failed]);
    assert_eq!(types.last(), Some(&"done"), "{types:?}");
    assert_eq!(failed, events.len() - 2, "{types:?}");
    let streamed = answer_text(&events);
    drop(h);

    let store = Store::open(dir.path()).unwrap();
    let c = store.get(&conv).unwrap();
    let texts: Vec<&str> = c.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts[..3], ["First", first.as_str(), "Second"]);
    let answer = &c.messages[3];
    assert_eq!(answer.id, ticket["assistantMessageId"]);
    assert_eq!(answer.status, MessageStatus::Interrupted);
    assert!(
        streamed.starts_with(&answer.text),
        "the saved text is not what streamed"
    );
}
