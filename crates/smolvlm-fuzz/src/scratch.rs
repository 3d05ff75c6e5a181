//! A per-process scratch folder for entry points that take paths (GGUF files, model folders):
//! one folder reused by every input, so a run does not create and delete millions of them.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The folder, locked: targets running on several threads (the tests) take turns in it.
pub(crate) struct Scratch {
    dir: MutexGuard<'static, tempfile::TempDir>,
}

static DIR: OnceLock<Mutex<tempfile::TempDir>> = OnceLock::new();

pub(crate) fn scratch() -> Scratch {
    let dir = DIR
        .get_or_init(|| Mutex::new(tempfile::tempdir().expect("a scratch folder in the temp dir")));
    let guard = dir.lock().unwrap_or_else(|p| p.into_inner());
    let scratch = Scratch { dir: guard };
    scratch.clear();
    scratch
}

impl Scratch {
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `bytes` as `name` in the folder and returns its path.
    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, bytes).expect("writing into the scratch folder");
        path
    }

    /// Empties the folder (what the previous input left).
    fn clear(&self) {
        let Ok(entries) = std::fs::read_dir(self.path()) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}
