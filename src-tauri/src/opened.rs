//! "Open with SmolVLM": images and PDFs named on the command line (the desktop entry runs
//! `smolvlm-desktop %F`). They count as handed over by the user, like a drop ([`crate::grants`]),
//! and wait here until the UI takes them (`take_opened_files`) to attach them to a new chat.
//! A second launch hands its command line to the running app (tauri-plugin-single-instance, in
//! [`crate::run_app`]); [`crate::forwarded`] queues its files, tells the UI
//! ([`FILES_OPENED_EVENT`]) and brings the window forward.
//!
//! The UI takes rather than receives the files: at start-up it may not listen yet when they
//! arrive, and taking clears them, so each file opens exactly once whichever comes first.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::grants::PathGrants;
use crate::sync::lock;
use crate::validate::ATTACHMENT_EXTENSIONS;

/// App event telling the UI that files were opened with the app while it runs (no payload:
/// it takes them with `take_opened_files`).
pub const FILES_OPENED_EVENT: &str = "files-opened";

/// The images and PDFs among command-line `args` (the program's name left out), as absolute
/// paths: relative ones resolved against `cwd` (the launching process's, which for a forwarded
/// launch is not ours). Flags (`-x`, `--name`, `--name=value`) are ignored, as is anything that
/// is not an existing file with an image or PDF extension; `--` ends the flags.
/// Each file once, in order.
pub fn files_in_args<I, S>(args: I, cwd: &Path) -> Vec<PathBuf>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let mut files: Vec<PathBuf> = Vec::new();
    let mut flags_done = false;
    for arg in args {
        let arg: OsString = arg.into();
        if !flags_done && arg == "--" {
            flags_done = true;
            continue;
        }
        if !flags_done && arg.to_string_lossy().starts_with('-') {
            continue;
        }
        let Some(path) = attachable_file(&cwd.join(arg)) else {
            continue;
        };
        if !files.contains(&path) {
            files.push(path);
        }
    }
    files
}

/// `path` when it is an existing file (or a link to one) the composer takes, named as given
/// (what a drop of it would give, a link's own name included). A path still relative (a
/// forwarded launch whose working folder was unknown) is not taken.
fn attachable_file(path: &Path) -> Option<PathBuf> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    let taken =
        ATTACHMENT_EXTENSIONS.contains(&ext.as_str()) && path.is_absolute() && path.is_file();
    taken.then(|| path.to_path_buf())
}

/// The files opened with the app that the UI has not taken yet.
#[derive(Default)]
pub struct OpenedFiles(Mutex<Vec<String>>);

impl OpenedFiles {
    /// Grants `paths` (the user named them) and queues them for the UI; answers how many were
    /// queued.
    pub fn hand_over(&self, grants: &PathGrants, paths: Vec<PathBuf>) -> usize {
        let paths = grants.hand_over(paths);
        let n = paths.len();
        let mut queued = lock(&self.0);
        for p in paths {
            if !queued.contains(&p) {
                queued.push(p);
            }
        }
        n
    }

    /// The queued files, in the order they were opened; none are queued afterwards.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_existing_images_and_pdfs_ignoring_flags_and_other_args() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::create_dir(root.join("folder.png")).unwrap();
        for f in [
            "a.png",
            "sub/B.JPG",
            "doc.PDF",
            "notes.txt",
            "-dash.png",
            "model.gguf",
        ] {
            std::fs::write(root.join(f), b"x").unwrap();
        }
        let abs = root.join("doc.PDF");
        let args: Vec<OsString> = [
            "--automation",
            "a.png",
            "-x",
            "sub/B.JPG",
            abs.to_str().unwrap(),
            "notes.txt",
            "model.gguf",
            "missing.png",
            "folder.png",
            "a.png",
            "https://example.com/c.png",
            "-dash.png",
            "--",
            "-dash.png",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(
            files_in_args(args, &root),
            [
                root.join("a.png"),
                root.join("sub/B.JPG"),
                abs,
                root.join("-dash.png"),
            ]
        );
        assert!(files_in_args(Vec::<OsString>::new(), &root).is_empty());
    }

    #[test]
    fn relative_paths_without_a_working_folder_are_not_taken() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("a.png"), b"x").unwrap();
        assert_eq!(files_in_args(["a.png"], &root), [root.join("a.png")]);
        assert!(files_in_args(["a.png"], Path::new("")).is_empty());
    }
}
