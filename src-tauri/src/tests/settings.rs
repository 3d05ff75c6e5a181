//! Settings: defaults, round trips, validation, and what they drive.

use serde_json::json;

use super::harness::*;

#[test]
fn settings_have_defaults_round_trip_and_drive_answers() {
    let dir = tempfile::tempdir().unwrap();
    {
        let h = Harness::new(dir.path());
        let s = h.invoke("get_settings", json!({})).unwrap();
        assert_eq!(
            s,
            json!({
                "temperature": 0.0, "topP": 1.0, "topK": 0, "maxNewTokens": 512,
                "repetitionPenalty": 1.0, "systemPrompt": "", "threads": 0, "device": "auto",
                "resolution": "standard", "theme": "system", "lastModel": null,
                "localApi": {"enabled": false, "host": "127.0.0.1", "port": 8080, "apiKey": null},
                "connections": [], "backend": null
            })
        );
        assert!(!dir.path().join("settings.json").exists());
        // A whole object, as the settings dialog sends it.
        let mut all = s.clone();
        all["temperature"] = json!(0.7);
        all["topK"] = json!(40);
        all["theme"] = json!("dark");
        all["device"] = json!("cpu");
        all["threads"] = json!(1);
        let saved = h.invoke("save_settings", json!({"settings": all})).unwrap();
        assert_eq!(saved, all);
        // Only some keys: the rest is kept.
        let saved = h
            .invoke(
                "save_settings",
                json!({"settings": {"maxNewTokens": 3, "systemPrompt": "Be brief."}}),
            )
            .unwrap();
        assert_eq!(saved["theme"], "dark");
        assert_eq!(saved["maxNewTokens"], 3);
        for bad in [
            json!({"temperature": 5.0}),
            json!({"topP": 0.0}),
            json!({"topK": 5000}),
            json!({"maxNewTokens": 0}),
            json!({"device": "gpu"}),
            json!({"theme": "blue"}),
            json!({"threads": 100_000}),
            json!({"longestEdgeTiles": 2}),
            json!({"resolution": "huge"}),
            json!({"noSuchKey": 1}),
            json!({"temperature": "hot"}),
            json!("not an object"),
            json!({"localApi": {"host": "localhost"}}),
            json!({"localApi": {"port": 0}}),
            json!({"localApi": {"apiKey": "line\nbreak"}}),
            json!({"connections": [{"id": "a b", "name": "x", "baseUrl": "http://h/v1"}]}),
            json!({"connections": [{"id": "a", "name": "x", "baseUrl": "ftp://h/v1"}]}),
            json!({"connections": [
                {"id": "a", "name": "x", "baseUrl": "http://h/v1"},
                {"id": "a", "name": "y", "baseUrl": "http://h/v1"}
            ]}),
            json!({"backend": "no-such-connection"}),
        ] {
            assert_eq!(
                h.error_code("save_settings", json!({"settings": bad})),
                "invalid_input",
                "{bad}"
            );
        }
        assert_eq!(h.invoke("get_settings", json!({})).unwrap(), saved);

        // Loading applies device and threads (a one-thread pool) and records the model.
        h.load_tiny();
        assert_eq!(
            h.invoke("get_settings", json!({})).unwrap()["lastModel"],
            tiny_model()
        );
        // The settings dialog sends the whole object it read before the load: the load's record
        // stays.
        let mut stale = h.invoke("get_settings", json!({})).unwrap();
        stale["lastModel"] = json!(null);
        let kept = h
            .invoke("save_settings", json!({ "settings": stale }))
            .unwrap();
        assert_eq!(kept["lastModel"], tiny_model());
        // The saved settings are the defaults of what the UI leaves out: 3 tokens, and the
        // system prompt opens the conversation.
        let conv = h.new_conversation();
        h.send(&conv, "Hello", &[], json!({"ignoreEos": true}))
            .unwrap();
        let events = h.wait_end();
        let done = events.last().unwrap();
        assert_eq!(done["generatedTokens"], 3, "{events:?}");
        let with_system = events[0]["promptTokens"].as_u64().unwrap();
        h.invoke("save_settings", json!({"settings": {"systemPrompt": ""}}))
            .unwrap();
        h.events.lock().unwrap().clear();
        let conv = h.new_conversation();
        h.send(
            &conv,
            "Hello",
            &[],
            json!({"maxNewTokens": 5, "ignoreEos": true}),
        )
        .unwrap();
        let events = h.wait_end();
        assert_eq!(events.last().unwrap()["generatedTokens"], 5);
        assert!(events[0]["promptTokens"].as_u64().unwrap() < with_system);
    }
    // Persisted; a device this build lacks fails the next load with a typed error.
    let h = Harness::new(dir.path());
    let s = h.invoke("get_settings", json!({})).unwrap();
    assert_eq!(s["theme"], "dark");
    assert_eq!(s["temperature"], 0.7);
    assert_eq!(s["lastModel"], tiny_model());
    // (The app's engine is built without CUDA.)
    h.invoke("save_settings", json!({"settings": {"device": "cuda"}}))
        .unwrap();
    assert_eq!(
        h.error_code("load_model", json!({"path": tiny_model()})),
        "device"
    );
    drop(h);
    // A damaged file gives the defaults.
    std::fs::write(dir.path().join("settings.json"), "{ not json").unwrap();
    let h = Harness::new(dir.path());
    assert_eq!(
        h.invoke("get_settings", json!({})).unwrap()["theme"],
        "system"
    );
}

/// `SettingsPatch` (the bindings' type of `save_settings`'s argument) has exactly the keys of
/// `Settings`.
#[test]
fn the_settings_patch_type_has_every_key() {
    use crate::settings::{Settings, SettingsKeys};
    let full = serde_json::to_value(Settings::default()).unwrap();
    let keys: SettingsKeys = serde_json::from_value(full.clone())
        .expect("every key of Settings is a key of SettingsPatch");
    let back = serde_json::to_value(keys).unwrap();
    let names = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(names(&back), names(&full));
}

#[test]
fn settings_from_before_the_presets_keep_their_resolution() {
    for (tiles, preset) in [(1, "fast"), (4, "standard"), (5, "document")] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("settings.json"),
            json!({"theme": "dark", "longestEdgeTiles": tiles}).to_string(),
        )
        .unwrap();
        let h = Harness::new(dir.path());
        let s = h.invoke("get_settings", json!({})).unwrap();
        assert_eq!(s["resolution"], preset, "{tiles} tiles");
        assert_eq!(s["theme"], "dark", "the rest of an old file is kept");
        assert!(s.get("longestEdgeTiles").is_none(), "{s}");
    }
}
