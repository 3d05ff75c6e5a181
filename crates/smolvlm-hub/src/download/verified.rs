//! Whether a file in the cache holds what its blob name says, hashed at most once per version
//! of the file: the verdict is recorded in `.smolvlm-verified/<blob id>` with the file's length,
//! modification time and identity (device and inode), and a file that still matches all of them
//! is not read again, so start-up does not rehash gigabytes. Whatever rewrites a blob (a copy,
//! another downloader, an editor) gives it a new modification time or identity, and it is
//! hashed again. What the record cannot see is a change that keeps all of them (bit rot, a
//! deliberate reset of the time): that is the price of not rehashing.

use std::fs::Metadata;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use crate::cache::HubCache;

use super::listing::Checksum;
use super::verify::hash_file;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The content hashes to the name.
    Good,
    /// It does not (or has another length than the hub lists, or cannot be read).
    Bad,
    /// There is no such file.
    Missing,
}

/// What identifies one version of a file without reading it.
#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime_ns: u128,
    dev: u64,
    ino: u64,
}

impl Stamp {
    /// `None` where the platform gives no modification time: such a file is always hashed.
    fn of(meta: &Metadata) -> Option<Self> {
        let mtime_ns = meta
            .modified()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_nanos();
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        Some(Self {
            len: meta.len(),
            mtime_ns,
            dev,
            ino,
        })
    }

    fn line(&self, good: bool) -> String {
        let verdict = if good { "ok" } else { "bad" };
        format!(
            "{verdict} {} {} {} {}\n",
            self.len, self.mtime_ns, self.dev, self.ino
        )
    }

    fn parse(text: &str) -> Option<(bool, Self)> {
        let mut parts = text.split_ascii_whitespace();
        let good = match parts.next()? {
            "ok" => true,
            "bad" => false,
            _ => return None,
        };
        let stamp = Self {
            len: parts.next()?.parse().ok()?,
            mtime_ns: parts.next()?.parse().ok()?,
            dev: parts.next()?.parse().ok()?,
            ino: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some((good, stamp))
    }
}

/// Whether `file` (a blob, or a snapshot link to one) of `repo` holds the content `checksum`
/// names, and has `expected_len` bytes when the hub gave a length.
pub(super) fn check(
    cache: &HubCache,
    repo: &str,
    file: &Path,
    checksum: &Checksum,
    expected_len: Option<u64>,
) -> Verdict {
    let meta = match std::fs::metadata(file) {
        Ok(m) if m.is_file() => m,
        _ => return Verdict::Missing,
    };
    if expected_len.is_some_and(|len| len != meta.len()) {
        return Verdict::Bad;
    }
    let record = cache.verified_record_path(repo, checksum.blob_id());
    let stamp = Stamp::of(&meta);
    if let Some(stamp) = &stamp
        && let Some((good, recorded)) = std::fs::read_to_string(&record)
            .ok()
            .as_deref()
            .and_then(Stamp::parse)
        && recorded == *stamp
    {
        return if good { Verdict::Good } else { Verdict::Bad };
    }
    let good = match hash_file(file, checksum, meta.len()) {
        Ok(hex) => hex == checksum.blob_id(),
        // Unreadable is unusable; not recorded, since it may be readable next time.
        Err(_) => return Verdict::Bad,
    };
    // The stamp is the one taken before hashing: a file that changed meanwhile no longer
    // matches it and is hashed again next time.
    if let Some(stamp) = stamp {
        write_record(&record, &stamp.line(good));
    }
    if good { Verdict::Good } else { Verdict::Bad }
}

/// Records that the blob at `blob` was verified (its bytes were hashed as they arrived).
pub(super) fn record_good(cache: &HubCache, repo: &str, blob_id: &str, blob: &Path) {
    if let Some(stamp) = std::fs::metadata(blob).ok().as_ref().and_then(Stamp::of) {
        write_record(
            &cache.verified_record_path(repo, blob_id),
            &stamp.line(true),
        );
    }
}

/// Best effort: a record that cannot be written only costs a hash later. Written aside and
/// renamed, so a reader never sees half of one.
fn write_record(record: &Path, line: &str) {
    let Some(dir) = record.parent() else {
        return;
    };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    // Unique per process and call: two writers never share a temporary file.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut tmp = record.as_os_str().to_owned();
    tmp.push(format!(
        ".{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    if std::fs::write(&tmp, line).is_ok() && std::fs::rename(&tmp, record).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_malformed_ones_are_ignored() {
        let stamp = Stamp {
            len: 9,
            mtime_ns: 1_700_000_000_123_456_789,
            dev: 2049,
            ino: 77,
        };
        assert_eq!(Stamp::parse(&stamp.line(true)), Some((true, stamp)));
        for bad in [
            "",
            "ok",
            "ok 1 2 3",
            "maybe 1 2 3 4",
            "ok 1 2 3 4 5",
            "ok -1 2 3 4",
        ] {
            assert_eq!(Stamp::parse(bad), None, "{bad:?}");
        }
    }
}
