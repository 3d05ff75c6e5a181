//! The JSONL a batch appends to: read back to resume (a last line cut by a kill is dropped, so
//! the file stays valid JSONL), then one whole line per file, each flushed and synced before the
//! next file starts, so a crash loses at most the file being answered.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::BatchError;
use super::record::{Outcome, Record};

pub enum Output {
    File { file: File, path: PathBuf },
    Stdout,
}

impl Output {
    pub fn stdout() -> Self {
        Output::Stdout
    }

    /// Opens `path` for appending (creating it) and returns the records it already holds. A
    /// last line without its newline is the write a kill interrupted: it is cut off (or, when it
    /// is whole JSON, given its newline). `retry_failed` drops the error lines, so those files
    /// run again.
    pub fn resume(path: &Path, retry_failed: bool) -> Result<(Self, Vec<Record>), BatchError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| BatchError::write(path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| BatchError::write(path, e))?;
        let Parsed {
            mut records,
            complete_len,
            tail,
        } = parse_lines(path, &bytes)?;
        if let Some(tail) = tail {
            match serde_json::from_slice::<Record>(tail) {
                Ok(rec) => {
                    file.write_all(b"\n")
                        .map_err(|e| BatchError::write(path, e))?;
                    records.push(rec);
                }
                Err(_) => {
                    file.set_len(complete_len as u64)
                        .map_err(|e| BatchError::write(path, e))?;
                    file.seek(SeekFrom::End(0))
                        .map_err(|e| BatchError::write(path, e))?;
                }
            }
        }
        if retry_failed && records.iter().any(Record::is_failed) {
            records.retain(|r| !r.is_failed());
            file = rewrite(path, &records)?;
        }
        Ok((
            Output::File {
                file,
                path: path.to_path_buf(),
            },
            records,
        ))
    }

    /// One line, written in one call and synced: a reader (or a crash) sees it whole or not at
    /// all, except for a kill during this very call, which [`Output::resume`] repairs.
    pub fn write(&mut self, rec: &Record) -> Result<(), BatchError> {
        let mut line = serde_json::to_vec(rec).map_err(std::io::Error::from);
        if let Ok(l) = &mut line {
            l.push(b'\n');
        }
        match self {
            Output::File { file, path } => line
                .and_then(|l| file.write_all(&l))
                .and_then(|()| file.flush())
                .and_then(|()| file.sync_data())
                .map_err(|e| BatchError::write(path, e)),
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                line.and_then(|l| out.write_all(&l))
                    .and_then(|()| out.flush())
                    .map_err(|e| BatchError::write(Path::new("stdout"), e))
            }
        }
    }
}

/// What an existing output holds.
struct Parsed<'a> {
    /// The whole lines' records.
    records: Vec<Record>,
    /// Where the whole lines end.
    complete_len: usize,
    /// The bytes after the last newline, if any.
    tail: Option<&'a [u8]>,
}

fn parse_lines<'a>(path: &Path, bytes: &'a [u8]) -> Result<Parsed<'a>, BatchError> {
    let complete_len = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut records = Vec::new();
    for (i, line) in bytes[..complete_len].split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let rec =
            serde_json::from_slice::<Record>(line).map_err(|e| BatchError::CorruptOutput {
                path: path.to_path_buf(),
                line: i + 1,
                reason: e.to_string(),
            })?;
        records.push(rec);
    }
    let tail = &bytes[complete_len..];
    let tail = (!tail.iter().all(u8::is_ascii_whitespace)).then_some(tail);
    Ok(Parsed {
        records,
        complete_len,
        tail,
    })
}

/// Replaces `path` with `records` through a temporary file and a rename, so an interruption
/// leaves the old file or the new one; returns the new one open for appending.
fn rewrite(path: &Path, records: &[Record]) -> Result<File, BatchError> {
    let mut body = Vec::new();
    for rec in records {
        serde_json::to_writer(&mut body, rec)
            .map_err(|e| BatchError::write(path, std::io::Error::from(e)))?;
        body.push(b'\n');
    }
    let tmp = sibling(path, ".tmp");
    let written = File::create(&tmp)
        .and_then(|mut f| f.write_all(&body).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(BatchError::write(path, e));
    }
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| BatchError::write(path, e))
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// The CSV of every record, replacing `path` whole (through a temporary file).
pub fn write_csv(path: &Path, records: &[Record]) -> Result<(), BatchError> {
    let csv_err = |source| BatchError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let tmp = sibling(path, ".tmp");
    let mut w = csv::Writer::from_path(&tmp).map_err(csv_err)?;
    w.write_record([
        "file",
        "text",
        "tokens",
        "image_tokens",
        "error_code",
        "error_message",
    ])
    .map_err(csv_err)?;
    for rec in records {
        let row = match &rec.outcome {
            Outcome::Answered(a) => [
                rec.file.clone(),
                a.text.clone(),
                a.tokens.to_string(),
                a.image_tokens.map(|n| n.to_string()).unwrap_or_default(),
                String::new(),
                String::new(),
            ],
            Outcome::Failed { error } => [
                rec.file.clone(),
                String::new(),
                String::new(),
                String::new(),
                error.code.clone(),
                error.message.clone(),
            ],
        };
        w.write_record(&row).map_err(csv_err)?;
    }
    w.flush().map_err(|e| BatchError::write(path, e))?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(|e| BatchError::write(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::record::{Answer, RecordError};

    fn answer(text: &str) -> Answer {
        Answer {
            text: text.into(),
            tokens: 1,
            token_ids: None,
            image_tokens: Some(4),
            prompt_tokens: Some(9),
            stop_reason: Some("length".into()),
            timings: None,
        }
    }

    #[test]
    fn resume_cuts_a_half_line_and_appends_after_the_whole_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let a = Record::answered(Path::new("a.png"), answer("x"));
        let line = serde_json::to_string(&a).unwrap();
        std::fs::write(&path, format!("{line}\n{}", &line[..line.len() / 2])).unwrap();
        let (mut out, got) = Output::resume(&path, false).unwrap();
        assert_eq!(got, vec![a.clone()]);
        let b = Record::failed(Path::new("b.png"), RecordError::new("image_corrupt", "bad"));
        out.write(&b).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("{line}\n{}\n", serde_json::to_string(&b).unwrap())
        );
    }

    #[test]
    fn a_whole_last_line_without_newline_is_kept_and_a_bad_middle_line_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let a = serde_json::to_string(&Record::answered(Path::new("a.png"), answer("x"))).unwrap();
        std::fs::write(&path, &a).unwrap();
        let (_, got) = Output::resume(&path, false).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{a}\n"));

        std::fs::write(&path, format!("{a}\nnot json\n{a}\n")).unwrap();
        let err = Output::resume(&path, false).err().unwrap();
        assert!(
            matches!(err, BatchError::CorruptOutput { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn retry_failed_drops_the_error_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let a = Record::answered(Path::new("a.png"), answer("x"));
        let b = Record::failed(Path::new("b.png"), RecordError::new("connect", "refused"));
        let lines: String = [&a, &b]
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        std::fs::write(&path, lines).unwrap();
        let (_, got) = Output::resume(&path, true).unwrap();
        assert_eq!(got, vec![a.clone()]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            serde_json::to_string(&a).unwrap() + "\n"
        );
    }

    #[test]
    fn csv_has_one_row_per_record_with_quoted_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let recs = [
            Record::answered(Path::new("a.png"), answer("a, \"quoted\"\nline")),
            Record::failed(Path::new("b.png"), RecordError::new("image_corrupt", "bad")),
        ];
        write_csv(&path, &recs).unwrap();
        let mut r = csv::Reader::from_path(&path).unwrap();
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(
            header,
            [
                "file",
                "text",
                "tokens",
                "image_tokens",
                "error_code",
                "error_message"
            ]
        );
        let rows: Vec<Vec<String>> = r
            .records()
            .map(|row| row.unwrap().iter().map(String::from).collect())
            .collect();
        assert_eq!(rows[0], ["a.png", "a, \"quoted\"\nline", "1", "4", "", ""]);
        assert_eq!(rows[1], ["b.png", "", "", "", "image_corrupt", "bad"]);
    }
}
