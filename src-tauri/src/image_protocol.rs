//! How the webview shows stored images: the app's own URI scheme, `smolvlm-image://localhost/
//! <sha256>.<ext>` (`http://smolvlm-image.localhost/…` on Windows), which serves the image
//! store's files by name and nothing else.
//!
//! Not tauri's asset protocol: its scope is a list of allowed paths that tauri itself widens for
//! every native drop (recursively for a dropped folder) and the dialog plugin for every pick,
//! for the rest of the session; the app never needs the webview to read a dropped file.

use std::path::Path;

use tauri::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, X_CONTENT_TYPE_OPTIONS};
use tauri::http::{Response, StatusCode};

use crate::store::is_image_name;

pub const SCHEME: &str = "smolvlm-image";

/// The answer to a request for `uri_path` (`/<name>`), from `images_dir`.
pub fn serve(images_dir: &Path, uri_path: &str) -> Response<Vec<u8>> {
    let name = uri_path.strip_prefix('/').unwrap_or(uri_path);
    let Some(mime) = mime(name).filter(|_| is_image_name(name)) else {
        return not_found();
    };
    match std::fs::read(images_dir.join(name)) {
        Ok(bytes) => {
            let mut r = Response::new(bytes);
            let h = r.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static(mime));
            h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            // Content-addressed: a name never changes what it names.
            h.insert(
                CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=31536000, immutable"),
            );
            r
        }
        Err(_) => not_found(),
    }
}

fn mime(name: &str) -> Option<&'static str> {
    Some(match name.rsplit_once('.')?.1 {
        "png" => "image/png",
        "jpg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "tiff" => "image/tiff",
        _ => return None,
    })
}

pub fn not_found() -> Response<Vec<u8>> {
    let mut r = Response::new(Vec::new());
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_stores_own_files_are_served() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("images");
        std::fs::create_dir(&images).unwrap();
        let name = format!("{}.png", "ab".repeat(32));
        std::fs::write(images.join(&name), b"png bytes").unwrap();
        std::fs::write(dir.path().join("secret.png"), b"secret").unwrap();
        std::fs::write(images.join("notes.png"), b"not a store name").unwrap();

        let ok = serve(&images, &format!("/{name}"));
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.body(), b"png bytes");
        assert_eq!(ok.headers()[CONTENT_TYPE], "image/png");
        for path in [
            "/../secret.png".to_string(),
            "/%2E%2E%2Fsecret.png".into(),
            "/notes.png".into(),
            format!("/{}", images.join(&name).display()),
            format!("/{}.png", "cd".repeat(32)),
            "/".into(),
            String::new(),
        ] {
            let r = serve(&images, &path);
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
            assert!(r.body().is_empty(), "{path}");
        }
    }
}
