//! Verification: the sha256 (LFS oid) or git blob id of a file, computed as it arrives and over
//! a resumed partial, so a file only becomes a blob when its hash is the hub's.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::listing::Checksum;

pub(super) enum Hasher {
    Sha256(Sha256),
    GitSha1(Sha1),
}

impl Hasher {
    /// A hasher for `checksum`; git blob ids hash a `blob <size>\0` header first.
    pub(super) fn new(checksum: &Checksum, size: u64) -> Self {
        match checksum {
            Checksum::Sha256(_) => Hasher::Sha256(Sha256::new()),
            Checksum::GitSha1(_) => {
                let mut h = Sha1::new();
                h.update(format!("blob {size}\0").as_bytes());
                Hasher::GitSha1(h)
            }
        }
    }

    pub(super) fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::GitSha1(h) => h.update(data),
        }
    }

    pub(super) fn hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::GitSha1(h) => hex::encode(h.finalize()),
        }
    }
}

/// Feeds the first `len` bytes of `file` (a partial being resumed) to `hasher`.
pub(super) fn hash_prefix(file: &mut File, len: u64, hasher: &mut Hasher) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file.take(len));
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
    }
}

/// The hex digest of the whole file at `path` under `checksum`'s kind (its first `len` bytes,
/// the length the git blob header names).
pub(super) fn hash_file(path: &Path, checksum: &Checksum, len: u64) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Hasher::new(checksum, len);
    hash_prefix(&mut file, len, &mut hasher)?;
    Ok(hasher.hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_ids_and_sha256_match_the_known_values() {
        // `git hash-object` of "hello\n".
        let mut g = Hasher::new(&Checksum::GitSha1(String::new()), 6);
        g.update(b"hello\n");
        assert_eq!(g.hex(), "ce013625030ba8dba906f756967f9e9ca394464a");
        let mut s = Hasher::new(&Checksum::Sha256(String::new()), 0);
        s.update(b"");
        assert_eq!(
            s.hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_resumed_prefix_hashes_like_the_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part");
        std::fs::write(&path, b"abcdefgh").unwrap();
        let mut f = File::open(&path).unwrap();
        let mut resumed = Hasher::new(&Checksum::Sha256(String::new()), 8);
        hash_prefix(&mut f, 5, &mut resumed).unwrap();
        resumed.update(b"fgh");
        let mut whole = Hasher::new(&Checksum::Sha256(String::new()), 8);
        whole.update(b"abcdefgh");
        assert_eq!(resumed.hex(), whole.hex());
    }
}
