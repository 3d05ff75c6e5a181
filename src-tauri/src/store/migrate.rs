//! Conversation files of an older schema, upgraded step by step to the current one; files of a
//! newer schema (a newer app wrote them) are refused, never rewritten.
//!
//! A step takes a file's JSON from version `n` to `n + 1`. The store upgrades a file when it
//! reads it and writes the result back atomically, so a crash leaves the old version (read and
//! upgraded again next time) or the new one.

use serde_json::{Map, Value};

/// One step: the document of version `n` (as JSON) changed in place into version `n + 1`; `Err`
/// says why it cannot be.
pub type Step = fn(&mut Map<String, Value>) -> Result<(), String>;

/// What the store reads and writes: `current` is the version it writes, `steps[i]` upgrades
/// version `i + 1` to `i + 2` (so `current == steps.len() + 1`).
#[derive(Clone, Copy)]
pub struct Schema {
    pub current: u32,
    pub steps: &'static [Step],
}

/// Version 1 is the first; no step yet. A change to the file format bumps
/// [`super::SCHEMA_VERSION`] and adds its step here.
pub const STEPS: &[Step] = &[];

pub const SCHEMA: Schema = Schema {
    current: super::SCHEMA_VERSION,
    steps: STEPS,
};

const _: () = assert!(SCHEMA.current as usize == SCHEMA.steps.len() + 1);

/// `doc` upgraded to `schema.current`; true when it was older (and so must be written back).
pub fn upgrade(doc: &mut Value, schema: Schema) -> Result<bool, String> {
    let Some(obj) = doc.as_object_mut() else {
        return Err("not a JSON object".into());
    };
    let version = obj
        .get("schemaVersion")
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
        .filter(|&v| v >= 1)
        .ok_or("no valid schemaVersion")?;
    if version > schema.current {
        return Err(format!(
            "schema version {version} is newer than this app's {}",
            schema.current
        ));
    }
    for v in version..schema.current {
        let step = schema
            .steps
            .get(v as usize - 1)
            .ok_or_else(|| format!("no upgrade from schema version {v}"))?;
        step(obj).map_err(|e| format!("upgrading from schema version {v}: {e}"))?;
        obj.insert("schemaVersion".into(), Value::from(v + 1));
    }
    Ok(version < schema.current)
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// A v1 → v2 step for tests: v2 keeps a `tags` list (empty for old files).
    pub(crate) fn add_tags(doc: &mut Map<String, Value>) -> Result<(), String> {
        doc.insert("tags".into(), json!([]));
        Ok(())
    }

    /// A v2 → v3 step for tests: v3 calls the title `name`.
    pub(crate) fn title_to_name(doc: &mut Map<String, Value>) -> Result<(), String> {
        let title = doc.remove("title").ok_or("no title")?;
        doc.insert("name".into(), title);
        Ok(())
    }

    #[test]
    fn older_documents_go_up_one_step_at_a_time() {
        let schema = Schema {
            current: 3,
            steps: &[add_tags, title_to_name],
        };
        let mut doc = json!({"schemaVersion": 1, "title": "t"});
        assert_eq!(upgrade(&mut doc, schema), Ok(true));
        assert_eq!(doc, json!({"schemaVersion": 3, "tags": [], "name": "t"}));
        let mut doc = json!({"schemaVersion": 2, "title": "t", "tags": ["a"]});
        assert_eq!(upgrade(&mut doc, schema), Ok(true));
        assert_eq!(doc, json!({"schemaVersion": 3, "tags": ["a"], "name": "t"}));
        // Current: untouched.
        let mut doc = json!({"schemaVersion": 3, "name": "t"});
        assert_eq!(upgrade(&mut doc, schema), Ok(false));
        assert_eq!(doc, json!({"schemaVersion": 3, "name": "t"}));
    }

    #[test]
    fn newer_broken_or_unversioned_documents_are_refused() {
        let schema = Schema {
            current: 2,
            steps: &[add_tags],
        };
        for doc in [
            json!({"schemaVersion": 3}),
            json!({"schemaVersion": 0}),
            json!({"schemaVersion": "1"}),
            json!({"title": "t"}),
            json!([1]),
        ] {
            let before = doc.clone();
            let mut doc = doc;
            assert!(upgrade(&mut doc, schema).is_err(), "{before}");
            assert_eq!(doc, before, "a refused document is not changed");
        }
        // A step that fails names the version it started from.
        let failing = Schema {
            current: 3,
            steps: &[add_tags, title_to_name],
        };
        let err = upgrade(&mut json!({"schemaVersion": 1}), failing).unwrap_err();
        assert!(err.contains("from schema version 2"), "{err}");
        // The app's own schema needs no step yet.
        let mut doc = json!({"schemaVersion": 1});
        assert_eq!(upgrade(&mut doc, SCHEMA), Ok(false));
    }
}
