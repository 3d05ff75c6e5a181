//! The paths the user handed to the app this session: dropped on the window (native drag-drop),
//! chosen in the open dialog (`commands::dialog`, which runs the dialog in the backend) or named
//! on the command line ("Open with", `crate::opened`). A
//! command that reads a file the webview names takes only these and the image store's own files:
//! the webview is untrusted, and without this it could have any image on disk copied into the
//! store it can display, or probe which paths exist.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{AppError, AppResult};
use crate::store::Store;
use crate::sync::lock;
use crate::validate;

/// Drops and picks; never forgotten within a session (the UI may come back to a dropped file,
/// e.g. a PDF whose pages are added again). Exact paths: a dropped folder is a model folder,
/// which the backend reads itself, so it grants nothing inside it.
#[derive(Default)]
pub struct PathGrants(Mutex<HashSet<PathBuf>>);

impl PathGrants {
    pub fn grant<P: Into<PathBuf>>(&self, paths: impl IntoIterator<Item = P>) {
        lock(&self.0).extend(paths.into_iter().map(Into::into));
    }

    /// Grants `paths` and answers them as the UI gets them back. A path that is not UTF-8 could
    /// not come back unchanged from the UI, so it is left out (and not granted).
    pub fn hand_over(&self, paths: Vec<PathBuf>) -> Vec<String> {
        let paths: Vec<(PathBuf, String)> = paths
            .into_iter()
            .filter_map(|p| {
                let s = p.to_str()?.to_string();
                Some((p, s))
            })
            .collect();
        self.grant(paths.iter().map(|(p, _)| p.clone()));
        paths.into_iter().map(|(_, s)| s).collect()
    }

    pub fn contains(&self, path: &Path) -> bool {
        lock(&self.0).contains(path)
    }

    /// `path` (`what` names it in errors) when it was handed over or is a file of `store`;
    /// otherwise `path_not_allowed`, answered before the file is looked at, so the same for a
    /// file that exists and one that does not.
    pub fn readable(&self, store: &Store, path: &str, what: &str) -> AppResult<PathBuf> {
        self.allowed(store, validate::absolute(path, what)?)
    }

    /// [`Self::readable`] for a path already checked to be absolute.
    pub fn allowed(&self, store: &Store, path: PathBuf) -> AppResult<PathBuf> {
        if store.is_image_file(&path) || self.contains(&path) {
            Ok(path)
        } else {
            Err(AppError::PathNotAllowed { path })
        }
    }
}

/// Whether drops the page emits itself count as the user's: only when a WebDriver drives the
/// webview (`TAURI_WEBVIEW_AUTOMATION=true`, what tauri's runtime reads to allow automation),
/// which can do anything a user can anyway. The E2E tests drop files that way.
pub fn trust_page_drops_from_env() -> bool {
    std::env::var("TAURI_WEBVIEW_AUTOMATION").as_deref() == Ok("true")
}

/// The paths of a `tauri://drag-drop` payload (`{paths, position}`); none when it has none.
pub fn drop_payload_paths(payload: &str) -> Vec<PathBuf> {
    #[derive(serde::Deserialize)]
    struct Payload {
        #[serde(default)]
        paths: Vec<PathBuf>,
    }
    serde_json::from_str::<Payload>(payload)
        .map(|p| p.paths)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_granted_paths_and_store_files_are_readable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let grants = PathGrants::default();
        let code = |r: AppResult<PathBuf>| r.unwrap_err().code();
        assert_eq!(
            code(grants.readable(&store, "/etc/hosts", "image")),
            "path_not_allowed"
        );
        assert_eq!(
            code(grants.readable(&store, "/no/such.png", "image")),
            "path_not_allowed"
        );
        assert_eq!(
            code(grants.readable(&store, "x.png", "image")),
            "invalid_input"
        );
        grants.grant([PathBuf::from("/etc/hosts")]);
        assert!(grants.readable(&store, "/etc/hosts", "image").is_ok());
        let stored = store.images_dir().join(format!("{}.png", "a".repeat(64)));
        assert!(
            grants
                .readable(&store, &stored.display().to_string(), "image")
                .is_ok()
        );
        // Only the store's own names, never a way out of it.
        for p in [
            store.images_dir().join("../conversations/x.json"),
            store.images_dir().join("notes.txt"),
            store
                .images_dir()
                .join("sub")
                .join(format!("{}.png", "a".repeat(64))),
        ] {
            assert_eq!(
                code(grants.readable(&store, &p.display().to_string(), "image")),
                "path_not_allowed",
                "{p:?}"
            );
        }
    }

    #[test]
    fn drop_payloads_give_their_paths() {
        assert_eq!(
            drop_payload_paths(r#"{"paths":["/a.png","/b"],"position":{"x":1,"y":2}}"#),
            [PathBuf::from("/a.png"), PathBuf::from("/b")]
        );
        assert!(drop_payload_paths(r#"{"position":{"x":1,"y":2}}"#).is_empty());
        assert!(drop_payload_paths("not json").is_empty());
    }
}
