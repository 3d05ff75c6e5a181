//! One line of the batch output: the file and either its answer or its error. The field names
//! are a contract with scripts (`docs/batch-and-remote.md`).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The path as the run named it (the argument, or the folder argument joined with the
    /// file's path inside it): the key a resumed run skips by.
    pub file: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

// Untagged: a line is an error when it has `error`, an answer when it has `text` and `tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Outcome {
    Failed { error: RecordError },
    Answered(Answer),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub text: String,
    /// How many tokens were generated.
    pub tokens: usize,
    /// The generated ids (absent when a remote server does not report them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ids: Option<Vec<u32>>,
    /// Null when a remote server does not report them.
    pub image_tokens: Option<usize>,
    pub prompt_tokens: Option<usize>,
    /// `eos` or `length`.
    pub stop_reason: Option<String>,
    /// The engine's (locally) or the server's `smolvlm.timings` (remotely), in seconds.
    pub timings: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordError {
    /// The engine's stable error code (`image_corrupt`, `image_unknown_format`, …) or the
    /// client's (`connect`, `http`, `protocol`).
    pub code: String,
    pub message: String,
}

impl RecordError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// Why a file has no answer.
#[derive(Debug)]
pub enum FileError {
    /// Recorded as the file's line.
    Failed(RecordError),
    /// The run was interrupted during this file: nothing is recorded, so the next run answers it.
    Cancelled,
}

impl From<RecordError> for FileError {
    fn from(e: RecordError) -> Self {
        FileError::Failed(e)
    }
}

impl Record {
    pub fn answered(file: &Path, answer: Answer) -> Self {
        Self {
            file: file_key(file),
            outcome: Outcome::Answered(answer),
        }
    }

    pub fn failed(file: &Path, error: RecordError) -> Self {
        Self {
            file: file_key(file),
            outcome: Outcome::Failed { error },
        }
    }

    pub fn is_failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed { .. })
    }
}

/// The `file` a path is recorded under.
pub fn file_key(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_tell_answers_from_errors() {
        let answer = Record::answered(
            Path::new("a/b.png"),
            Answer {
                text: "hi".into(),
                tokens: 2,
                token_ids: Some(vec![1, 2]),
                image_tokens: Some(64),
                prompt_tokens: Some(80),
                stop_reason: Some("eos".into()),
                timings: None,
            },
        );
        let failed = Record::failed(Path::new("c.jpg"), RecordError::new("image_corrupt", "bad"));
        for rec in [&answer, &failed] {
            let line = serde_json::to_string(rec).unwrap();
            assert_eq!(
                &serde_json::from_str::<Record>(&line).unwrap(),
                rec,
                "{line}"
            );
        }
        let v = serde_json::to_value(&failed).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"file": "c.jpg", "error": {"code": "image_corrupt", "message": "bad"}})
        );
        assert!(failed.is_failed() && !answer.is_failed());
        assert!(serde_json::from_str::<Record>(r#"{"file": "x"}"#).is_err());
    }
}
