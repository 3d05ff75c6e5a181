use std::path::PathBuf;

pub type Result<T, E = TextError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// The `tokenizers` library failed (encode/decode/adding tokens).
    #[error("tokenizer error: {0}")]
    Tokenizer(String),

    /// A file the model folder must have is not there.
    #[error("missing file: {}", path.display())]
    MissingFile { path: PathBuf },

    /// A file exists but could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file was read but its content is not what it should be (bad JSON, wrong field type, ...).
    #[error("malformed {}: {message}", path.display())]
    MalformedFile { path: PathBuf, message: String },

    /// The chat template does not parse.
    #[error("chat template syntax error: {0}")]
    TemplateSyntax(String),

    /// The chat template failed while rendering (undefined attribute, type error, ...).
    #[error("chat template render error: {0}")]
    TemplateRender(String),

    /// The chat template called `raise_exception(message)`.
    #[error("chat template raised: {0}")]
    TemplateRaised(String),

    /// The chat template asked for more than any real template needs (see [`TemplateLimit`]).
    #[error("chat template stopped: {0}")]
    TemplateLimit(TemplateLimit),

    /// The number of `<image>` markers in the prompt differs from the number of images.
    #[error(
        "the number of <image> tokens in the prompt should be the same as the number of images passed: \
         found {markers} <image> tokens and {images} images"
    )]
    ImageCountMismatch { markers: usize, images: usize },

    /// The messages given to the template are not usable (e.g. messages JSON that is not a list).
    #[error("invalid messages: {0}")]
    InvalidMessages(String),
}

/// What a chat template ran into. A template comes from the model's files, which anyone can
/// publish: without these bounds one could loop for hours or allocate until the process aborts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateLimit {
    /// It did more work (steps, data created) than this much minijinja fuel pays for.
    Fuel(u64),
    /// Its output grew past this many bytes.
    Output(usize),
    /// It asked `tojson` for an indent wider than this.
    Indent(usize),
    /// It printed or serialized values nested deeper than this.
    Depth(usize),
}

impl std::fmt::Display for TemplateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateLimit::Fuel(n) => write!(f, "it ran out of its {n} units of fuel"),
            TemplateLimit::Output(n) => write!(f, "its output exceeds {n} bytes"),
            TemplateLimit::Indent(n) => write!(f, "a tojson indent exceeds {n}"),
            TemplateLimit::Depth(n) => write!(f, "a value is nested deeper than {n}"),
        }
    }
}

impl TextError {
    /// Stable identifier for the UI and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            TextError::Tokenizer(_) => "tokenizer",
            TextError::MissingFile { .. } => "missing_file",
            TextError::Io { .. } => "io",
            TextError::MalformedFile { .. } => "malformed_file",
            TextError::TemplateSyntax(_) => "template_syntax",
            TextError::TemplateRender(_) => "template_render",
            TextError::TemplateRaised(_) => "template_raised",
            TextError::TemplateLimit(_) => "template_limit",
            TextError::ImageCountMismatch { .. } => "image_count_mismatch",
            TextError::InvalidMessages(_) => "invalid_messages",
        }
    }

    pub(crate) fn malformed(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        TextError::MalformedFile {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Reads a file to a string, mapping "not found" to [`TextError::MissingFile`].
pub(crate) fn read_text(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            TextError::MissingFile {
                path: path.to_path_buf(),
            }
        } else {
            TextError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// Reads and parses a JSON file.
pub(crate) fn read_json(path: &std::path::Path) -> Result<serde_json::Value> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|e| TextError::malformed(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let errs = [
            TextError::Tokenizer(String::new()),
            TextError::MissingFile { path: "a".into() },
            TextError::Io {
                path: "a".into(),
                source: std::io::Error::other("x"),
            },
            TextError::malformed("a", "b"),
            TextError::TemplateSyntax(String::new()),
            TextError::TemplateRender(String::new()),
            TextError::TemplateRaised(String::new()),
            TextError::TemplateLimit(TemplateLimit::Output(1)),
            TextError::ImageCountMismatch {
                markers: 1,
                images: 2,
            },
            TextError::InvalidMessages(String::new()),
        ];
        let mut codes: Vec<_> = errs.iter().map(|e| e.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), errs.len());
    }

    #[test]
    fn missing_file_is_typed() {
        let err = read_text(std::path::Path::new("/definitely/not/here.json")).unwrap_err();
        assert_eq!(err.code(), "missing_file");
    }
}
