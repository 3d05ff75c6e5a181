//! Conversations: input validation, rename and truncate, restarts, crashes mid-write and bad files.

use std::path::Path;

use serde_json::{Value, json};
use smolvlm::Role;

use super::harness::*;
use crate::store::{MessageStatus, Store, StoredMessage, crash_during_write, now_ms};

#[test]
fn commands_validate_their_input() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let conv = h.new_conversation();
    assert_eq!(
        h.send(&conv, "Hi", &[], json!({})).unwrap_err()["code"],
        "no_model_loaded"
    );
    h.load_tiny();
    let text_file = dir.path().join("notes.png");
    std::fs::write(&text_file, "not an image").unwrap();
    let img = fixture_image("img_tall_96x300.png");
    // Dropped, so their errors say what they are (see tests::access for paths never dropped).
    h.drop_paths([
        "/no/such.png".into(),
        text_file.clone(),
        dir.path().to_path_buf(),
    ]);
    let cases: Vec<(String, Vec<String>, Value, &str)> = vec![
        (
            "../../etc/passwd".into(),
            vec![],
            json!({}),
            "invalid_input",
        ),
        (
            conv.clone(),
            vec!["/no/such.png".into()],
            json!({}),
            "not_found",
        ),
        (
            conv.clone(),
            vec![text_file.display().to_string()],
            json!({}),
            "not_an_image",
        ),
        (
            conv.clone(),
            vec![dir.path().display().to_string()],
            json!({}),
            "not_an_image",
        ),
        (
            conv.clone(),
            vec!["relative.png".into()],
            json!({}),
            "invalid_input",
        ),
        (
            conv.clone(),
            vec![img.clone(); 9],
            json!({}),
            "invalid_input",
        ),
        (
            conv.clone(),
            vec![],
            json!({"temperature": 5.0}),
            "invalid_input",
        ),
        (
            conv.clone(),
            vec![],
            json!({"maxNewTokens": 0}),
            "invalid_input",
        ),
        (conv.clone(), vec![], json!({"topP": 0.0}), "invalid_input"),
        ("c-missing".into(), vec![], json!({}), "not_found"),
    ];
    for (id, images, settings, code) in cases {
        let err = h.send(&id, "Hi", &images, settings.clone()).unwrap_err();
        assert_eq!(err["code"], code, "{id} {images:?} {settings}: {err}");
    }
    assert_eq!(
        h.send(&conv, "  ", &[], json!({})).unwrap_err()["code"],
        "invalid_input"
    );
    let long = "x".repeat(crate::validate::MAX_TEXT_CHARS + 1);
    assert_eq!(
        h.send(&conv, &long, &[], json!({})).unwrap_err()["code"],
        "invalid_input"
    );
    assert_eq!(
        h.error_code("get_conversation", json!({"id": "../x"})),
        "invalid_input"
    );
    assert_eq!(
        h.error_code("delete_conversation", json!({"id": "c-none"})),
        "not_found"
    );
    // Nothing was added by the refused messages.
    let c = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    assert_eq!(c["messages"].as_array().unwrap().len(), 0);
}

#[test]
fn conversations_are_renamed_and_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let conv;
    {
        let h = Harness::new(dir.path());
        conv = h.new_conversation();
        h.state()
            .store
            .update(&conv, |c| {
                c.messages.push(message("m-1", Role::User, "one"));
                c.messages.push(message("m-2", Role::Assistant, "two"));
                c.messages.push(message("m-3", Role::User, "three"));
                c.messages.push(message("m-4", Role::Assistant, "four"));
            })
            .unwrap();
        let s = h
            .invoke(
                "rename_conversation",
                json!({"id": conv, "title": "  Cats  "}),
            )
            .unwrap();
        assert_eq!(s["id"], conv.as_str());
        assert_eq!(s["title"], "Cats");
        assert_eq!(s["messages"], 4);
        // Regenerate: truncate at the last user message.
        let c = h
            .invoke(
                "truncate_conversation",
                json!({"id": conv, "messageId": "m-3"}),
            )
            .unwrap();
        let ids: Vec<&str> = c["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["m-1", "m-2"]);
        assert_eq!(c["title"], "Cats");

        for (cmd, args, code) in [
            (
                "rename_conversation",
                json!({"id": conv, "title": "   "}),
                "invalid_input",
            ),
            (
                "rename_conversation",
                json!({"id": conv, "title": "x".repeat(crate::validate::MAX_TITLE_CHARS + 1)}),
                "invalid_input",
            ),
            (
                "rename_conversation",
                json!({"id": "../x", "title": "t"}),
                "invalid_input",
            ),
            (
                "rename_conversation",
                json!({"id": "c-none", "title": "t"}),
                "not_found",
            ),
            (
                "truncate_conversation",
                json!({"id": conv, "messageId": "m-9"}),
                "not_found",
            ),
            (
                "truncate_conversation",
                json!({"id": conv, "messageId": "../m"}),
                "invalid_input",
            ),
            (
                "truncate_conversation",
                json!({"id": "c-none", "messageId": "m-1"}),
                "not_found",
            ),
        ] {
            assert_eq!(h.error_code(cmd, args.clone()), code, "{cmd} {args}");
        }
    }
    // Saved: a restarted app sees both changes.
    let h = Harness::new(dir.path());
    let list = h.invoke("list_conversations", json!({})).unwrap();
    assert_eq!(list[0]["title"], "Cats");
    assert_eq!(list[0]["messages"], 2);
    let c = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    assert_eq!(c["messages"][1]["text"], "two");
    // Truncating at the first message empties it.
    let c = h
        .invoke(
            "truncate_conversation",
            json!({"id": conv, "messageId": "m-1"}),
        )
        .unwrap();
    assert_eq!(c["messages"], json!([]));
}

#[test]
fn conversations_and_images_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let image = fixture_image("img_long_500x120.png");
    let conv;
    {
        let h = Harness::new(dir.path());
        h.load_tiny();
        conv = h.new_conversation();
        // The same image twice is stored once, under its sha256.
        h.send(
            &conv,
            "Two views",
            &[image.clone(), image.clone()],
            json!({"maxNewTokens": 3}),
        )
        .unwrap();
        assert_eq!(h.wait_end().last().unwrap()["type"], "done");
        assert_eq!(h.dir, dir.path());
    }
    let bytes = std::fs::read(&image).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let stored = dir.path().join("images").join(format!("{sha}.png"));
    assert_eq!(std::fs::read(&stored).unwrap(), bytes);
    assert_eq!(
        std::fs::read_dir(dir.path().join("images"))
            .unwrap()
            .count(),
        1
    );

    let h = Harness::new(dir.path());
    let list = h.invoke("list_conversations", json!({})).unwrap();
    assert_eq!(list[0]["id"], conv.as_str());
    assert_eq!(list[0]["messages"], 2);
    let c = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    assert_eq!(c["schemaVersion"], crate::store::SCHEMA_VERSION);
    // The UI gets the absolute path in the store (docs/app.md); the file on disk keeps it relative.
    assert_eq!(
        Path::new(c["messages"][0]["images"][0]["file"].as_str().unwrap()),
        stored
    );
    let on_disk = std::fs::read_to_string(
        dir.path()
            .join("conversations")
            .join(format!("{}.json", conv.as_str())),
    )
    .unwrap();
    assert!(
        on_disk.contains(&format!("\"file\": \"{sha}.png\""))
            || on_disk.contains(&format!("\"file\":\"{sha}.png\"")),
        "{on_disk}"
    );
    assert_eq!(c["messages"][0]["images"][1]["sha256"], sha.as_str());
    assert_eq!(
        c["messages"][0]["images"][0]["originalName"],
        "img_long_500x120.png"
    );
    assert_eq!(c["messages"][1]["status"], "complete");
    let info = h.invoke("app_info", json!({})).unwrap();
    assert_eq!(
        Path::new(info["imagesDir"].as_str().unwrap()),
        dir.path().join("images")
    );
    h.invoke("delete_conversation", json!({"id": conv}))
        .unwrap();
    assert_eq!(
        h.invoke("list_conversations", json!({})).unwrap(),
        json!([])
    );
}

#[test]
fn a_crash_mid_write_keeps_the_last_save_and_marks_the_answer_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let conv;
    {
        let store = Store::open(dir.path()).unwrap();
        conv = store.create("Crash").unwrap().id;
        let msg = |id: &str, role, text: &str, status| StoredMessage {
            id: id.into(),
            role,
            text: text.into(),
            images: vec![],
            status,
            created_ms: now_ms(),
            error: None,
            generated_tokens: None,
            answered_by: None,
            timings: None,
        };
        // An answer streaming, saved up to "The cat".
        let (saved, ()) = store
            .update(&conv, |c| {
                c.messages.push(msg(
                    "m-q",
                    Role::User,
                    "What is it?",
                    MessageStatus::Complete,
                ));
                c.messages.push(msg(
                    "m-a",
                    Role::Assistant,
                    "The cat",
                    MessageStatus::Streaming,
                ));
            })
            .unwrap();
        // The next save dies half-way (kill -9 during the write).
        let mut next = saved.clone();
        next.messages[1].text = "The cat sat on".into();
        let path = dir
            .path()
            .join("conversations")
            .join(format!("{conv}.json"));
        crash_during_write(&path, &serde_json::to_vec_pretty(&next).unwrap());
        let leftovers = std::fs::read_dir(dir.path().join("conversations"))
            .unwrap()
            .count();
        assert_eq!(leftovers, 2, "the torn temporary file is there");
        // No clean shutdown: the store is simply dropped.
    }
    let store = Store::open(dir.path()).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path().join("conversations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        [format!("{conv}.json")],
        "temporary files are cleaned up"
    );
    let c = store.get(&conv).unwrap();
    assert_eq!(c.messages[1].text, "The cat");
    assert_eq!(c.messages[1].status, MessageStatus::Interrupted);
    // The interrupted answer stays part of the history the model sees.
    let msgs = store.engine_messages(&c);
    assert_eq!(msgs.len(), 2);

    // Through the app too: a restarted app shows it interrupted.
    let h = Harness::new(dir.path());
    let c = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    assert_eq!(c["messages"][1]["status"], "interrupted");
    assert_eq!(c["messages"][1]["text"], "The cat");
}

#[test]
fn an_unreadable_or_newer_conversation_file_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let conv = store.create("x").unwrap().id;
    let path = dir
        .path()
        .join("conversations")
        .join(format!("{conv}.json"));
    std::fs::write(&path, "{ not json").unwrap();
    assert_eq!(store.get(&conv).unwrap_err().code(), "corrupt_data");
    let mut c: Value = serde_json::to_value(store.create("y").unwrap()).unwrap();
    c["schemaVersion"] = json!(99);
    let id = c["id"].as_str().unwrap().to_string();
    std::fs::write(
        dir.path().join("conversations").join(format!("{id}.json")),
        c.to_string(),
    )
    .unwrap();
    assert_eq!(store.get(&id).unwrap_err().code(), "corrupt_data");
    // Listing skips both rather than failing.
    assert!(store.list().unwrap().is_empty());
}
