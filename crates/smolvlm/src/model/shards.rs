//! Which safetensors files hold a model folder's weights: `model.safetensors`, or the shards
//! `model.safetensors.index.json` names in its `weight_map`.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

pub(super) fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join("model.safetensors");
    if single.exists() {
        return Ok(vec![regular_file(single, "model.safetensors")?]);
    }
    let index = dir.join("model.safetensors.index.json");
    let Some(index_json): Option<serde_json::Value> = crate::config::read_json_opt(&index)? else {
        return Err(Error::MissingModelFile { path: single });
    };
    let map = index_json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::malformed(&index, "no weight_map"))?;
    let mut names: Vec<&str> = map.values().filter_map(|v| v.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| shard_path(dir, &index, name))
        .collect()
}

/// The shard `name` of the index at `index`. The index is a model file, as untrusted as the rest:
/// a name that is absolute or climbs out (`/etc/passwd`, `../x`) would make the loader read
/// whatever it points at, so only a relative path of plain components, inside `dir`, is taken.
fn shard_path(dir: &Path, index: &Path, name: &str) -> Result<PathBuf> {
    let rel = Path::new(name);
    let plain = !name.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        return Err(Error::malformed(
            index,
            format!("weight_map names {name:?}, which is not a file inside the model folder"),
        ));
    }
    regular_file(dir.join(rel), name)
}

/// `path` when it is a regular file (through symbolic links: the hub cache's snapshot files are
/// links to its blobs). A FIFO would block the load until someone writes to it, and a device
/// file would be read or mapped without end.
fn regular_file(path: PathBuf, name: &str) -> Result<PathBuf> {
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => Ok(path),
        Ok(_) => Err(Error::malformed(
            &path,
            format!("{name:?} is not a regular file"),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::MissingModelFile { path }),
        Err(e) => Err(Error::io(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_index(weight_map: &str) -> (tempfile::TempDir, Result<Vec<PathBuf>>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("model.safetensors.index.json"),
            format!(r#"{{"weight_map": {weight_map}}}"#),
        )
        .unwrap();
        let files = safetensors_files(dir.path());
        (dir, files)
    }

    #[test]
    fn shards_outside_the_folder_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("secret.safetensors");
        std::fs::write(&victim, b"x").unwrap();
        let escape = format!(
            "../{}/secret.safetensors",
            outside.path().file_name().unwrap().to_string_lossy()
        );
        for name in [victim.to_string_lossy().to_string(), escape, String::new()] {
            let map = serde_json::json!({ "a.weight": name }).to_string();
            let (_dir, files) = with_index(&map);
            let err = files.unwrap_err();
            assert_eq!(err.code(), "malformed_model_file", "{name:?}: {err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn shards_that_are_not_regular_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("dir.safetensors")).unwrap();
        let fifo = dir.path().join("fifo.safetensors");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        let mut names = vec!["dir.safetensors"];
        if made.is_ok_and(|s| s.success()) {
            names.push("fifo.safetensors");
        }
        // A link to a regular file is one (as the hub cache lays out its snapshots).
        let blob = tempfile::NamedTempFile::new().unwrap();
        std::os::unix::fs::symlink(blob.path(), dir.path().join("link.safetensors")).unwrap();
        std::fs::write(
            dir.path().join("model.safetensors.index.json"),
            r#"{"weight_map": {"a.weight": "link.safetensors"}}"#,
        )
        .unwrap();
        assert_eq!(safetensors_files(dir.path()).unwrap().len(), 1);
        for name in names {
            std::fs::write(
                dir.path().join("model.safetensors.index.json"),
                format!(r#"{{"weight_map": {{"a.weight": "{name}"}}}}"#),
            )
            .unwrap();
            let err = safetensors_files(dir.path()).unwrap_err();
            assert_eq!(err.code(), "malformed_model_file", "{name}: {err}");
        }
    }

    #[test]
    fn plain_shards_are_listed_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for name in ["b.safetensors", "a.safetensors", "sub/c.safetensors"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::write(
            dir.path().join("model.safetensors.index.json"),
            r#"{"weight_map": {"x": "b.safetensors", "y": "a.safetensors", "z": "b.safetensors", "w": "sub/c.safetensors"}}"#,
        )
        .unwrap();
        let files = safetensors_files(dir.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(dir.path()).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            names,
            ["a.safetensors", "b.safetensors", "sub/c.safetensors"].map(PathBuf::from)
        );
        std::fs::remove_file(dir.path().join("a.safetensors")).unwrap();
        assert_eq!(
            safetensors_files(dir.path()).unwrap_err().code(),
            "missing_model_file"
        );
    }
}
