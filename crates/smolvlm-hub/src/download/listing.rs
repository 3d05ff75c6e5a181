//! What the hub says a repository holds, and what a download plans and returns: file listings
//! with sizes and checksums (validated before any name reaches the disk), the plan, the snapshot.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{HubError, Result};

/// How a file is checked before it counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "hex", rename_all = "snake_case")]
pub enum Checksum {
    /// LFS files: the sha256 of the content (the hub's LFS oid).
    Sha256(String),
    /// Small files kept in git: the git blob id, sha1 of `blob <len>\0<content>`.
    GitSha1(String),
}

impl Checksum {
    /// The blob's file name in the cache (the hub's ETag, as Python names it).
    pub fn blob_id(&self) -> &str {
        match self {
            Checksum::Sha256(h) | Checksum::GitSha1(h) => h,
        }
    }

    /// What a blob's name says its content hashes to: the hub names LFS blobs by their sha256
    /// (64 hex digits) and small files by their git blob id (40). `None` for any other name,
    /// which cannot be checked.
    pub(super) fn from_blob_id(id: &str) -> Option<Self> {
        let id = id.to_ascii_lowercase();
        if is_hex(&id, 64) {
            Some(Checksum::Sha256(id))
        } else if is_hex(&id, 40) {
            Some(Checksum::GitSha1(id))
        } else {
            None
        }
    }
}

/// One file of a repository at a commit.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteFile {
    pub path: String,
    pub size: u64,
    pub checksum: Checksum,
}

/// The hub's answer for a repository at a revision.
#[derive(Debug, Clone, Serialize)]
pub struct RepoInfo {
    pub repo: String,
    pub commit: String,
    pub files: Vec<RemoteFile>,
}

/// A model present in the cache, ready to load.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub repo: String,
    pub revision: String,
    pub commit: String,
    /// `snapshots/<commit>`: a Hugging Face model folder.
    pub dir: PathBuf,
    /// The wanted files, relative to `dir`.
    pub files: Vec<String>,
    /// Bytes actually transferred by this call (0 when everything was cached).
    pub transferred_bytes: u64,
    /// True when the hub was not asked (offline, or unreachable and the cache had it).
    pub from_cache_only: bool,
}

impl Snapshot {
    pub fn path_of(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

/// A file in the plan of a download.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedFile {
    pub path: String,
    pub size: u64,
    /// Already complete in the cache.
    pub cached: bool,
    /// Bytes of a partial download that will be resumed.
    pub partial_bytes: u64,
}

#[derive(Deserialize)]
struct RawInfo {
    sha: String,
    siblings: Vec<RawSibling>,
}

#[derive(Deserialize)]
struct RawSibling {
    rfilename: String,
    size: Option<u64>,
    #[serde(rename = "blobId")]
    blob_id: Option<String>,
    lfs: Option<RawLfs>,
}

#[derive(Deserialize)]
struct RawLfs {
    sha256: String,
    size: u64,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `p` is a plain relative path of normal components on every platform, not only the
/// one running: a listing can come from any server, and a name harmless here can be a drive
/// (`C:x`), a stream (`a:b`), a parent (`.. ` is `..` on Windows, which drops trailing dots and
/// spaces) or a device (`nul.json`) elsewhere.
fn is_plain_relative_path(p: &str) -> bool {
    !p.is_empty()
        && p.split('/').all(is_plain_component)
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

fn is_plain_component(c: &str) -> bool {
    !c.is_empty()
        && !c.ends_with(['.', ' '])
        && !c
            .chars()
            .any(|ch| ch.is_control() || ch == ':' || ch == '\\')
        && !is_windows_device(c)
}

/// `CON`, `nul.json`, `com1.txt`…: Windows opens the device whatever the folder or extension.
fn is_windows_device(c: &str) -> bool {
    let stem = c
        .split('.')
        .next()
        .unwrap_or(c)
        .trim_end()
        .to_ascii_lowercase();
    match stem.as_str() {
        "con" | "prn" | "aux" | "nul" | "conin$" | "conout$" => true,
        _ => {
            let digit = stem
                .strip_prefix("com")
                .or_else(|| stem.strip_prefix("lpt"));
            matches!(digit.map(str::as_bytes), Some([b'1'..=b'9']))
        }
    }
}

/// The body of `GET /api/models/<repo>/revision/<rev>?blobs=true`, checked: a commit hash,
/// plain relative file names (see [`is_plain_relative_path`]), and a size and hash for every
/// file.
pub(super) fn parse_info(repo: &str, what: &str, body: &str) -> Result<RepoInfo> {
    let bad = |reason: String| HubError::BadResponse {
        what: what.to_string(),
        reason,
    };
    let raw: RawInfo =
        serde_json::from_str(body).map_err(|e| bad(format!("model info is not valid: {e}")))?;
    if !is_hex(&raw.sha, 40) {
        return Err(bad(format!("commit {:?} is not a commit hash", raw.sha)));
    }
    let mut files = Vec::new();
    for s in raw.siblings {
        if !is_plain_relative_path(&s.rfilename) {
            return Err(HubError::UnsafeFileName {
                what: what.to_string(),
                name: s.rfilename,
            });
        }
        let (size, checksum) = match (s.lfs, s.blob_id, s.size) {
            (Some(lfs), _, _) => {
                let h = lfs.sha256.to_ascii_lowercase();
                if !is_hex(&h, 64) {
                    return Err(bad(format!("LFS oid of {} is not a sha256", s.rfilename)));
                }
                (lfs.size, Checksum::Sha256(h))
            }
            (None, Some(id), Some(size)) => {
                let h = id.to_ascii_lowercase();
                if !is_hex(&h, 40) {
                    return Err(bad(format!("blob id of {} is not a git hash", s.rfilename)));
                }
                (size, Checksum::GitSha1(h))
            }
            _ => {
                return Err(bad(format!(
                    "no size or hash for {} (the hub must answer ?blobs=true)",
                    s.rfilename
                )));
            }
        };
        files.push(RemoteFile {
            path: s.rfilename,
            size,
            checksum,
        });
    }
    Ok(RepoInfo {
        repo: repo.to_string(),
        commit: raw.sha.to_ascii_lowercase(),
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn info(siblings: &str) -> Result<RepoInfo> {
        parse_info(
            "o/r",
            "o/r@main",
            &format!(r#"{{"sha":"{SHA}","siblings":{siblings}}}"#),
        )
    }

    #[test]
    fn model_info_is_validated_before_any_name_reaches_the_disk() {
        let ok = info(&format!(
            r#"[{{"rfilename":"a/config.json","size":3,"blobId":"{SHA}"}},
               {{"rfilename":"w.gguf","size":9,"blobId":"{SHA}","lfs":{{"sha256":"{}","size":9}}}}]"#,
            "ab".repeat(32)
        ))
        .unwrap();
        assert_eq!(ok.files[0].checksum, Checksum::GitSha1(SHA.into()));
        assert_eq!(ok.files[1].checksum, Checksum::Sha256("ab".repeat(32)));
        for bad in [
            format!(r#"[{{"rfilename":"../evil","size":3,"blobId":"{SHA}"}}]"#),
            format!(r#"[{{"rfilename":"/etc/passwd","size":3,"blobId":"{SHA}"}}]"#),
        ] {
            assert_eq!(
                info(&bad).unwrap_err().code(),
                "hub_unsafe_file_name",
                "{bad}"
            );
        }
        for bad in [
            r#"[{"rfilename":"x","size":3,"blobId":"../../x"}]"#.to_string(),
            r#"[{"rfilename":"x","size":3,"blobId":"zz","lfs":{"sha256":"nothex","size":3}}]"#
                .to_string(),
            format!(r#"[{{"rfilename":"x","blobId":"{SHA}"}}]"#),
        ] {
            assert_eq!(info(&bad).unwrap_err().code(), "hub_bad_response", "{bad}");
        }
        let err = parse_info("o/r", "o/r", r#"{"sha":"../x","siblings":[]}"#).unwrap_err();
        assert_eq!(err.code(), "hub_bad_response");
        assert_eq!(
            parse_info("o/r", "o/r", "<html>").unwrap_err().code(),
            "hub_bad_response"
        );
    }

    /// A listing can come from any server (`HF_ENDPOINT`), and a name that is harmless on one
    /// platform is a path elsewhere: `C:x` is relative on Unix but names drive C on Windows.
    #[test]
    fn names_that_are_not_plain_relative_paths_are_refused_on_every_platform() {
        let listing = |name: &str| {
            let name = serde_json::to_string(name).unwrap();
            info(&format!(
                r#"[{{"rfilename":{name},"size":3,"blobId":"{SHA}"}}]"#
            ))
        };
        for good in [
            "config.json",
            "onnx/model.onnx",
            "a b/c-d_e.f",
            ".gitattributes",
            "aaé.json",
            "com10.txt",
            "console.json",
        ] {
            assert!(listing(good).is_ok(), "{good}");
        }
        for bad in [
            "C:evil.gguf",
            "c:/Windows/System32/x.dll",
            "C:\\Windows\\x.dll",
            "d:",
            "sub/C:x",
            "model.gguf:stream",
            "\\\\server\\share\\x",
            "/abs",
            "../up",
            "a/../../up",
            "a/./b",
            "a//b",
            "trailing/",
            "",
            "nul\u{0}byte",
            "...",
            "dots./x",
            "space /x",
            "CON",
            "nul.json",
            "sub/com1.txt",
            "lpt9",
            "aaé/com1",
        ] {
            match listing(bad) {
                Err(HubError::UnsafeFileName { name, .. }) => assert_eq!(name, bad),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
