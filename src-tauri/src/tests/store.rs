//! The store's upkeep: images nothing refers to are removed (never one the UI may still send),
//! older files are upgraded in place, and a second instance or an unwritable folder opens
//! read-only instead of cleaning up.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use smolvlm::Role;

use super::harness::*;
use crate::store::migrate::Schema;
use crate::store::{MessageStatus, ReadOnly, Store, StoredImage};

fn stored_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir.join("images"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn name_of(image: &Value) -> String {
    Path::new(image["file"].as_str().unwrap())
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

/// A user turn with `images` (store files, as the UI sends them) and its answer, without a model.
fn add_turn(h: &Harness, conv: &str, id: &str, images: &[&Value]) {
    let images: Vec<StoredImage> = images
        .iter()
        .map(|i| {
            serde_json::from_value(json!({
                "sha256": i["sha256"], "file": name_of(i), "originalName": i["originalName"],
                "width": i["width"], "height": i["height"],
            }))
            .unwrap()
        })
        .collect();
    let store = &h.state().store;
    store
        .update(conv, |c| {
            let mut q = message(&format!("{id}-q"), Role::User, "q");
            q.images = images.clone();
            c.messages.push(q);
            c.messages
                .push(message(&format!("{id}-a"), Role::Assistant, "a"));
        })
        .unwrap();
    store.release_sent(&images);
}

#[test]
fn deleting_a_conversation_removes_the_images_only_it_had() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let import = |name: &str| {
        h.invoke("import_image", json!({"path": fixture_image(name)}))
            .unwrap()
    };
    let (wide, tall, long) = (
        import("img_wide_300x200.png"),
        import("img_tall_96x300.png"),
        import("img_long_500x120.png"),
    );
    let (a, b) = (h.new_conversation(), h.new_conversation());
    add_turn(&h, &a, "m-a", &[&wide, &tall]);
    add_turn(&h, &b, "m-b", &[&tall]);
    // `long` stays in the composer: imported, never sent.
    h.invoke("delete_conversation", json!({"id": a})).unwrap();
    assert_eq!(
        stored_names(dir.path()),
        BTreeSet::from([name_of(&tall), name_of(&long)]),
        "the deleted conversation's own image went; the shared one and the composer's stayed"
    );
    h.invoke("delete_conversation", json!({"id": b})).unwrap();
    assert_eq!(stored_names(dir.path()), BTreeSet::from([name_of(&long)]));
    // The composer's image is still there to send.
    let c = h.new_conversation();
    h.load_tiny();
    h.send(
        &c,
        "Hi",
        &[long["file"].as_str().unwrap().to_string()],
        json!({"maxNewTokens": 1}),
    )
    .unwrap();
    assert_eq!(h.wait_end().last().unwrap()["type"], "done");
}

#[test]
fn truncated_images_wait_for_the_resend_and_go_at_start_up_when_none_came() {
    let dir = tempfile::tempdir().unwrap();
    let (conv, wide, tall);
    {
        let h = Harness::new(dir.path());
        wide = h
            .invoke(
                "import_image",
                json!({"path": fixture_image("img_wide_300x200.png")}),
            )
            .unwrap();
        tall = h
            .invoke(
                "import_image",
                json!({"path": fixture_image("img_tall_96x300.png")}),
            )
            .unwrap();
        conv = h.new_conversation();
        add_turn(&h, &conv, "m-1", &[&wide]);
        add_turn(&h, &conv, "m-2", &[&tall]);
        // Regenerate: truncate at the last question, whose image is sent again next.
        h.invoke(
            "truncate_conversation",
            json!({"id": conv, "messageId": "m-2-q"}),
        )
        .unwrap();
        assert!(stored_names(dir.path()).contains(&name_of(&tall)));
        // Another conversation's deletion meanwhile does not take it either.
        let other = h.new_conversation();
        h.invoke("delete_conversation", json!({"id": other}))
            .unwrap();
        assert!(stored_names(dir.path()).contains(&name_of(&tall)));
    }
    // Not resent: the next start removes it, and keeps what the conversation still has.
    let h = Harness::new(dir.path());
    assert_eq!(stored_names(dir.path()), BTreeSet::from([name_of(&wide)]));
    let c = h.invoke("get_conversation", json!({"id": conv})).unwrap();
    assert_eq!(c["messages"].as_array().unwrap().len(), 2);
}

#[test]
fn start_up_removes_unreferenced_images_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let orphan = format!("{}.png", "0".repeat(64));
    let kept = format!("{}.jpg", "1".repeat(64));
    let by_newer = format!("{}.webp", "2".repeat(64));
    {
        let store = Store::open(dir.path()).unwrap();
        let conv = store.create("t").unwrap().id;
        store
            .update(&conv, |c| {
                let mut m = message("m-1", Role::User, "q");
                m.images = vec![
                    serde_json::from_value(json!({
                        "sha256": "1".repeat(64), "file": kept, "originalName": "k.jpg",
                        "width": 1, "height": 1,
                    }))
                    .unwrap(),
                ];
                c.messages.push(m);
            })
            .unwrap();
        // A newer app's file, which this one cannot read, still keeps its images.
        std::fs::write(
            dir.path().join("conversations/c-newer.json"),
            json!({"schemaVersion": 99, "id": "c-newer", "parts": [{"image": by_newer}]})
                .to_string(),
        )
        .unwrap();
    }
    let images = dir.path().join("images");
    for name in [&orphan, &kept, &by_newer, &"notes.txt".to_string()] {
        std::fs::write(images.join(name), b"x").unwrap();
    }
    let _store = Store::open(dir.path()).unwrap();
    assert_eq!(
        stored_names(dir.path()),
        BTreeSet::from([kept, by_newer, "notes.txt".to_string()])
    );
}

/// A v1 → v2 step of a schema to come: v1 called the title `name`.
fn name_to_title(doc: &mut Map<String, Value>) -> Result<(), String> {
    let name = doc.remove("name").ok_or("no name")?;
    doc.insert("title".into(), name);
    Ok(())
}

const V2: Schema = Schema {
    current: 2,
    steps: &[name_to_title],
};

#[test]
fn an_older_file_is_upgraded_in_place_and_a_newer_one_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let convs = dir.path().join("conversations");
    std::fs::create_dir_all(&convs).unwrap();
    let v1 = json!({
        "schemaVersion": 1, "id": "c-old", "name": "Old", "createdMs": 1, "updatedMs": 2,
        "messages": [{"id": "m-1", "role": "assistant", "text": "half", "images": [],
                      "status": "streaming", "createdMs": 1}],
    });
    std::fs::write(convs.join("c-old.json"), v1.to_string()).unwrap();
    let v3 = json!({"schemaVersion": 3, "id": "c-new", "title": "New", "messages": []});
    std::fs::write(convs.join("c-new.json"), v3.to_string()).unwrap();

    let store = Store::open_with(dir.path(), V2).unwrap();
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(convs.join("c-old.json")).unwrap()).unwrap();
    assert_eq!(on_disk["schemaVersion"], 2);
    assert_eq!(on_disk["title"], "Old");
    assert!(on_disk.get("name").is_none(), "{on_disk}");
    // Upgraded, then opened as the app opens after a crash.
    assert_eq!(on_disk["messages"][0]["status"], "interrupted");
    let names: BTreeSet<String> = std::fs::read_dir(&convs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["c-new.json".to_string(), "c-old.json".to_string()]),
        "no temporary file is left"
    );
    assert_eq!(store.get("c-old").unwrap().title, "Old");
    // The newer file: refused, untouched.
    assert_eq!(store.get("c-new").unwrap_err().code(), "corrupt_data");
    assert_eq!(
        std::fs::read_to_string(convs.join("c-new.json")).unwrap(),
        v3.to_string()
    );
    assert_eq!(store.create("x").unwrap().schema_version, 2);
}

/// A store file the second instance must leave alone: a temp file being written and an answer
/// streaming.
fn busy_store(dir: &Path) -> (Store, String, PathBuf) {
    let store = Store::open(dir).unwrap();
    let conv = store.create("live").unwrap().id;
    store
        .update(&conv, |c| {
            let mut m = message("m-a", Role::Assistant, "so far");
            m.status = MessageStatus::Streaming;
            c.messages.push(m);
        })
        .unwrap();
    let temp = dir
        .join("conversations")
        .join(format!(".{conv}.json.tmp-1-1"));
    std::fs::write(&temp, "being written").unwrap();
    (store, conv, temp)
}

#[test]
fn a_second_instance_opens_read_only_and_cleans_up_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (first, conv, temp) = busy_store(dir.path());
    let orphan = dir
        .path()
        .join("images")
        .join(format!("{}.png", "3".repeat(64)));
    std::fs::write(&orphan, b"the first instance's composer image").unwrap();

    let second = Store::open(dir.path()).unwrap();
    assert_eq!(second.read_only(), Some(&ReadOnly::OtherInstance));
    assert!(
        temp.exists(),
        "the first instance's temporary file was removed"
    );
    assert!(orphan.exists(), "the first instance's image was collected");
    let c = second.get(&conv).unwrap();
    assert_eq!(c.messages[0].status, MessageStatus::Streaming);
    for err in [
        second.create("x").unwrap_err(),
        second.rename(&conv, "y").unwrap_err(),
        second.delete(&conv).unwrap_err(),
    ] {
        assert_eq!(err.code(), "read_only", "{err}");
    }
    assert_eq!(
        first.get(&conv).unwrap().messages[0].status,
        MessageStatus::Streaming
    );

    // Through the app: it starts, says so, and its sends are refused.
    let h = Harness::new(dir.path());
    let info = h.invoke("app_info", json!({})).unwrap();
    assert_eq!(info["readOnly"], json!({"reason": "other-instance"}));
    assert_eq!(h.error_code("create_conversation", json!({})), "read_only");
    // Nor does it overwrite the owner's settings or local models list.
    let settings = dir.path().join("settings.json");
    std::fs::write(&settings, br#"{"systemPrompt": "the owner's"}"#).unwrap();
    assert_eq!(
        h.error_code(
            "save_settings",
            json!({"settings": {"systemPrompt": "mine"}})
        ),
        "read_only"
    );
    let gguf = tiny_dir().join("model-q8_0.gguf").display().to_string();
    assert_eq!(
        h.error_code("add_local_model", json!({"path": gguf})),
        "read_only"
    );
    assert_eq!(
        std::fs::read(&settings).unwrap(),
        br#"{"systemPrompt": "the owner's"}"#
    );
    assert!(!dir.path().join("local-models.json").exists());
    drop((h, second, first));
    // The owner gone, the next instance owns the folder again.
    let next = Store::open(dir.path()).unwrap();
    assert_eq!(next.read_only(), None);
    assert!(!temp.exists());
    assert_eq!(
        next.get(&conv).unwrap().messages[0].status,
        MessageStatus::Interrupted
    );
}

/// A folder this process cannot create files in, if the test can make one: modes do not stop
/// root, sysfs refuses new folders to everyone.
fn unwritable_data_dir(tmp: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let ro = tmp.join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(ro.join("probe"), b"").is_err() {
        return Some(ro.join("data"));
    }
    let sys = Path::new("/sys/smolvlm-desktop-test");
    match std::fs::create_dir(sys) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Some(sys.to_path_buf()),
        _ => None,
    }
}

#[cfg(unix)]
#[test]
fn an_unwritable_data_folder_opens_read_only_with_a_notice() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(dir) = unwritable_data_dir(tmp.path()) else {
        eprintln!("no unwritable folder to be had here; skipped");
        return;
    };
    let h = Harness::new(&dir);
    let info = h.invoke("app_info", json!({})).unwrap();
    assert_eq!(info["readOnly"]["reason"], "not-writable", "{info}");
    assert_eq!(
        h.invoke("list_conversations", json!({})).unwrap(),
        json!([])
    );
    assert_eq!(h.error_code("create_conversation", json!({})), "read_only");
}

/// Found by the `store` fuzz target (fuzz/regressions/store/).
#[test]
fn a_file_with_another_id_or_an_outside_image_is_corrupt_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let convs = dir.path().join("conversations");
    std::fs::create_dir_all(&convs).unwrap();
    let doc = |id: &str, file: &str| {
        let images = if file.is_empty() {
            json!([])
        } else {
            json!([{"sha256": "", "file": file, "originalName": "x", "width": 1, "height": 1}])
        };
        json!({"schemaVersion": 1, "id": id, "title": "t", "createdMs": 1, "updatedMs": 2,
            "messages": [{"id": "m-1", "role": "user", "text": "q", "images": images,
                "status": "streaming", "createdMs": 1}]})
        .to_string()
    };
    std::fs::write(convs.join("c-copy.json"), doc("c-original", "")).unwrap();
    std::fs::write(convs.join("c-image.json"), doc("c-image", "/etc/passwd")).unwrap();
    let store = Store::open(dir.path()).unwrap();
    for id in ["c-copy", "c-image"] {
        assert_eq!(store.get(id).unwrap_err().code(), "corrupt_data", "{id}");
    }
    assert!(store.list().unwrap().is_empty());
}
