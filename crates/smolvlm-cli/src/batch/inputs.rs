//! Which files a batch runs: folders walked recursively for image and PDF extensions, in sorted
//! order; files named on the command line always, as given.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What a folder is searched for: the image formats the engine decodes, and PDFs (their pages).
const IMAGE_EXTENSIONS: [&str; 9] = [
    "png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff", "pdf",
];

pub fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// The files in the order they will run: each argument in turn, a folder's images sorted by path
/// (so a resumed run meets them in the same order). A file reached twice runs once. Folders that
/// cannot be read are reported through `warn` and skipped; a named file that cannot be read is
/// kept, so its line records why.
pub fn collect(args: &[PathBuf], mut warn: impl FnMut(String)) -> Vec<PathBuf> {
    let mut seen = HashSet::new();
    let mut files = Vec::new();
    for arg in args {
        if !arg.is_dir() {
            if seen.insert(arg.clone()) {
                files.push(arg.clone());
            }
            continue;
        }
        let mut found = Vec::new();
        for entry in walkdir::WalkDir::new(arg).follow_links(true) {
            match entry {
                Ok(e) if e.file_type().is_file() && is_image_name(e.path()) => {
                    found.push(e.into_path());
                }
                Ok(_) => {}
                Err(e) => warn(format!("skipping part of {}: {e}", arg.display())),
            }
        }
        found.sort();
        for f in found {
            if seen.insert(f.clone()) {
                files.push(f);
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_folders_for_images_sorted_and_keeps_named_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        for f in [
            "b.PNG",
            "a.jpeg",
            "notes.txt",
            "sub/c.TIFF",
            "sub/deeper/d.webp",
            "sub/e.gif",
            "x.bmp",
            "doc.Pdf",
            "noext",
        ] {
            std::fs::write(root.join(f), b"").unwrap();
        }
        let named = root.join("notes.txt");
        let missing = root.join("missing.png");
        let mut warnings = Vec::new();
        let got = collect(
            &[
                root.to_path_buf(),
                named.clone(),
                missing.clone(),
                root.join("x.bmp"),
            ],
            |w| warnings.push(w),
        );
        let rel: Vec<String> = got
            .iter()
            .map(|p| match p.strip_prefix(root) {
                Ok(r) => r.to_string_lossy().into_owned(),
                Err(_) => p.to_string_lossy().into_owned(),
            })
            .collect();
        assert_eq!(
            rel,
            [
                "a.jpeg",
                "b.PNG",
                "doc.Pdf",
                "sub/c.TIFF",
                "sub/deeper/d.webp",
                "sub/e.gif",
                "x.bmp",
                "notes.txt",
                "missing.png"
            ]
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}
