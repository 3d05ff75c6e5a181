//! The SmolVLM family as the app offers it: every model in the original safetensors form (the
//! engine loads it directly) and in llama.cpp GGUF form (a text model plus its vision projector,
//! `mmproj`), from the `ggml-org/…-GGUF` repositories.
//!
//! Sizes and memory needs are estimates for choosing a model (the download itself always uses
//! the exact sizes the hub reports). `revision` is the branch or commit to fetch: every entry
//! tracks `main`, because the commit hashes of the upstream repositories could not be looked up
//! when this table was written (no hub access); the commit actually fetched is recorded in the
//! cache (`refs/main` → `snapshots/<commit>`), so an installed model never changes under the user.

use serde::Serialize;

use crate::error::{HubError, Result};

/// How the weights are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// The original Hugging Face folder: configs, tokenizer, safetensors (bf16), quantized in
    /// place at load if asked.
    Safetensors,
    /// A llama.cpp GGUF text model and its GGUF vision projector.
    Gguf,
}

/// One downloadable form of one model.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogEntry {
    /// Stable id used by the CLI and the app, e.g. `smolvlm-256m` or `smolvlm-256m-q8_0`.
    pub id: &'static str,
    /// Human name of the model, e.g. `SmolVLM-256M-Instruct`.
    pub model: &'static str,
    pub format: Format,
    /// `Q8_0`, `F16`, `Q4_K_M` for GGUF; `BF16` for safetensors.
    pub precision: &'static str,
    /// Hub repository.
    pub repo: &'static str,
    /// Branch or commit fetched (see the module docs).
    pub revision: &'static str,
    /// Files to fetch, as globs relative to the repository root (`*` stays within a folder).
    pub include: &'static [&'static str],
    /// For GGUF: the text model file and the vision projector file.
    pub gguf_model: Option<&'static str>,
    pub gguf_mmproj: Option<&'static str>,
    /// Parameters, in millions.
    pub params_m: u32,
    /// Estimated download size in bytes.
    pub approx_download_bytes: u64,
    /// Estimated memory needed to run it on the CPU (weights in the compute type plus KV cache
    /// and activations for a 4-tile image; for the 2.2B GGUF pairs, a document page at N = 5
    /// and a 512-token answer, measured — docs/benchmarks.md): f32 for safetensors (the
    /// engine's default), the file's own type for GGUF.
    pub approx_memory_bytes: u64,
    /// Image tokens per tile (the global view counts as one more tile).
    pub tokens_per_tile: u32,
    /// Tile edge in pixels.
    pub tile_px: u32,
    pub good_for: &'static str,
    /// Whether `smolvlm generate` can load this form today.
    pub engine_ready: bool,
}

const MB: u64 = 1_000_000;

/// The id a first run uses when the user has not chosen.
pub const DEFAULT_MODEL: &str = "smolvlm-256m";

const HF_FILES: &[&str] = &["*.json", "*.safetensors", "*.jinja"];

macro_rules! hf {
    ($id:expr, $model:expr, $repo:expr, $params:expr, $dl:expr, $mem:expr, $tok:expr, $tile:expr, $good:expr) => {
        CatalogEntry {
            id: $id,
            model: $model,
            format: Format::Safetensors,
            precision: "BF16",
            repo: $repo,
            revision: "main",
            include: HF_FILES,
            gguf_model: None,
            gguf_mmproj: None,
            params_m: $params,
            approx_download_bytes: $dl * MB,
            approx_memory_bytes: $mem * MB,
            tokens_per_tile: $tok,
            tile_px: $tile,
            good_for: $good,
            engine_ready: true,
        }
    };
}

macro_rules! gguf {
    ($id:expr, $model:expr, $repo:expr, $prec:expr, $file:expr, $mmproj:expr, $params:expr, $dl:expr, $mem:expr, $tok:expr, $tile:expr, $good:expr) => {
        CatalogEntry {
            id: $id,
            model: $model,
            format: Format::Gguf,
            precision: $prec,
            repo: $repo,
            revision: "main",
            include: &[$file, $mmproj],
            gguf_model: Some($file),
            gguf_mmproj: Some($mmproj),
            params_m: $params,
            approx_download_bytes: $dl * MB,
            approx_memory_bytes: $mem * MB,
            tokens_per_tile: $tok,
            tile_px: $tile,
            good_for: $good,
            engine_ready: true,
        }
    };
}

static CATALOG: &[CatalogEntry] = &[
    hf!(
        "smolvlm-256m",
        "SmolVLM-256M-Instruct",
        "HuggingFaceTB/SmolVLM-256M-Instruct",
        256,
        515,
        1_400,
        64,
        512,
        "Fastest; captions and simple questions on any laptop (recommended first model)"
    ),
    gguf!(
        "smolvlm-256m-q8_0",
        "SmolVLM-256M-Instruct",
        "ggml-org/SmolVLM-256M-Instruct-GGUF",
        "Q8_0",
        "SmolVLM-256M-Instruct-Q8_0.gguf",
        "mmproj-SmolVLM-256M-Instruct-Q8_0.gguf",
        256,
        280,
        600,
        64,
        512,
        "Smallest llama.cpp pair; low-memory machines"
    ),
    gguf!(
        "smolvlm-256m-f16",
        "SmolVLM-256M-Instruct",
        "ggml-org/SmolVLM-256M-Instruct-GGUF",
        "F16",
        "SmolVLM-256M-Instruct-f16.gguf",
        "mmproj-SmolVLM-256M-Instruct-f16.gguf",
        256,
        520,
        900,
        64,
        512,
        "Full-precision llama.cpp pair of the 256M"
    ),
    hf!(
        "smolvlm-500m",
        "SmolVLM-500M-Instruct",
        "HuggingFaceTB/SmolVLM-500M-Instruct",
        507,
        1_020,
        2_600,
        64,
        512,
        "Better reading of text and charts, still fast on CPU"
    ),
    gguf!(
        "smolvlm-500m-q8_0",
        "SmolVLM-500M-Instruct",
        "ggml-org/SmolVLM-500M-Instruct-GGUF",
        "Q8_0",
        "SmolVLM-500M-Instruct-Q8_0.gguf",
        "mmproj-SmolVLM-500M-Instruct-Q8_0.gguf",
        507,
        540,
        1_000,
        64,
        512,
        "500M in llama.cpp form at half the memory"
    ),
    gguf!(
        "smolvlm-500m-f16",
        "SmolVLM-500M-Instruct",
        "ggml-org/SmolVLM-500M-Instruct-GGUF",
        "F16",
        "SmolVLM-500M-Instruct-f16.gguf",
        "mmproj-SmolVLM-500M-Instruct-f16.gguf",
        507,
        1_010,
        1_500,
        64,
        512,
        "Full-precision llama.cpp pair of the 500M"
    ),
    hf!(
        "smolvlm-2.2b",
        "SmolVLM-Instruct",
        "HuggingFaceTB/SmolVLM-Instruct",
        2_250,
        4_490,
        10_000,
        81,
        384,
        "Most capable SmolVLM 1; documents, multi-image reasoning (needs a GPU or patience)"
    ),
    gguf!(
        "smolvlm-2.2b-q4_k_m",
        "SmolVLM-Instruct",
        "ggml-org/SmolVLM-Instruct-GGUF",
        "Q4_K_M",
        "SmolVLM-Instruct-Q4_K_M.gguf",
        "mmproj-SmolVLM-Instruct-Q8_0.gguf",
        2_250,
        1_550,
        2_700,
        81,
        384,
        "2.2B on 8 GB machines"
    ),
    gguf!(
        "smolvlm-2.2b-q8_0",
        "SmolVLM-Instruct",
        "ggml-org/SmolVLM-Instruct-GGUF",
        "Q8_0",
        "SmolVLM-Instruct-Q8_0.gguf",
        "mmproj-SmolVLM-Instruct-Q8_0.gguf",
        2_250,
        2_270,
        3_500,
        81,
        384,
        "2.2B with near-full quality"
    ),
    gguf!(
        "smolvlm-2.2b-f16",
        "SmolVLM-Instruct",
        "ggml-org/SmolVLM-Instruct-GGUF",
        "F16",
        "SmolVLM-Instruct-f16.gguf",
        "mmproj-SmolVLM-Instruct-f16.gguf",
        2_250,
        4_280,
        5_300,
        81,
        384,
        "2.2B full precision for GPUs"
    ),
    hf!(
        "smolvlm2-256m-video",
        "SmolVLM2-256M-Video-Instruct",
        "HuggingFaceTB/SmolVLM2-256M-Video-Instruct",
        256,
        515,
        1_400,
        64,
        512,
        "Tiny model trained on video frames as well as images"
    ),
    gguf!(
        "smolvlm2-256m-video-q8_0",
        "SmolVLM2-256M-Video-Instruct",
        "ggml-org/SmolVLM2-256M-Video-Instruct-GGUF",
        "Q8_0",
        "SmolVLM2-256M-Video-Instruct-Q8_0.gguf",
        "mmproj-SmolVLM2-256M-Video-Instruct-Q8_0.gguf",
        256,
        280,
        600,
        64,
        512,
        "SmolVLM2 256M, llama.cpp, smallest"
    ),
    gguf!(
        "smolvlm2-256m-video-f16",
        "SmolVLM2-256M-Video-Instruct",
        "ggml-org/SmolVLM2-256M-Video-Instruct-GGUF",
        "F16",
        "SmolVLM2-256M-Video-Instruct-f16.gguf",
        "mmproj-SmolVLM2-256M-Video-Instruct-f16.gguf",
        256,
        520,
        900,
        64,
        512,
        "SmolVLM2 256M, llama.cpp, full precision"
    ),
    hf!(
        "smolvlm2-500m-video",
        "SmolVLM2-500M-Video-Instruct",
        "HuggingFaceTB/SmolVLM2-500M-Video-Instruct",
        507,
        1_020,
        2_600,
        64,
        512,
        "Small video and image model; good quality per byte"
    ),
    gguf!(
        "smolvlm2-500m-video-q8_0",
        "SmolVLM2-500M-Video-Instruct",
        "ggml-org/SmolVLM2-500M-Video-Instruct-GGUF",
        "Q8_0",
        "SmolVLM2-500M-Video-Instruct-Q8_0.gguf",
        "mmproj-SmolVLM2-500M-Video-Instruct-Q8_0.gguf",
        507,
        540,
        1_000,
        64,
        512,
        "SmolVLM2 500M, llama.cpp, half the memory"
    ),
    gguf!(
        "smolvlm2-500m-video-f16",
        "SmolVLM2-500M-Video-Instruct",
        "ggml-org/SmolVLM2-500M-Video-Instruct-GGUF",
        "F16",
        "SmolVLM2-500M-Video-Instruct-f16.gguf",
        "mmproj-SmolVLM2-500M-Video-Instruct-f16.gguf",
        507,
        1_010,
        1_500,
        64,
        512,
        "SmolVLM2 500M, llama.cpp, full precision"
    ),
    hf!(
        "smolvlm2-2.2b",
        "SmolVLM2-2.2B-Instruct",
        "HuggingFaceTB/SmolVLM2-2.2B-Instruct",
        2_250,
        4_490,
        10_000,
        81,
        384,
        "Best quality of the family: documents, charts, video (GPU recommended)"
    ),
    gguf!(
        "smolvlm2-2.2b-q4_k_m",
        "SmolVLM2-2.2B-Instruct",
        "ggml-org/SmolVLM2-2.2B-Instruct-GGUF",
        "Q4_K_M",
        "SmolVLM2-2.2B-Instruct-Q4_K_M.gguf",
        "mmproj-SmolVLM2-2.2B-Instruct-Q8_0.gguf",
        2_250,
        1_550,
        2_700,
        81,
        384,
        "Best quality that fits 8 GB machines"
    ),
    gguf!(
        "smolvlm2-2.2b-q8_0",
        "SmolVLM2-2.2B-Instruct",
        "ggml-org/SmolVLM2-2.2B-Instruct-GGUF",
        "Q8_0",
        "SmolVLM2-2.2B-Instruct-Q8_0.gguf",
        "mmproj-SmolVLM2-2.2B-Instruct-Q8_0.gguf",
        2_250,
        2_270,
        3_500,
        81,
        384,
        "SmolVLM2 2.2B with near-full quality"
    ),
    gguf!(
        "smolvlm2-2.2b-f16",
        "SmolVLM2-2.2B-Instruct",
        "ggml-org/SmolVLM2-2.2B-Instruct-GGUF",
        "F16",
        "SmolVLM2-2.2B-Instruct-f16.gguf",
        "mmproj-SmolVLM2-2.2B-Instruct-f16.gguf",
        2_250,
        4_280,
        5_300,
        81,
        384,
        "SmolVLM2 2.2B full precision for GPUs"
    ),
];

/// Every entry, in display order (smallest family members first).
pub fn catalog() -> &'static [CatalogEntry] {
    CATALOG
}

/// The catalog entry with this id (case-insensitive).
pub fn find(id: &str) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|e| e.id.eq_ignore_ascii_case(id))
}

/// The recommended first model.
pub fn default_entry() -> &'static CatalogEntry {
    CATALOG
        .iter()
        .find(|e| e.id == DEFAULT_MODEL)
        .unwrap_or(&CATALOG[0])
}

/// What a user typed to name a model: a catalog id or `org/repo[@revision]`, with the files to
/// fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelSpec {
    pub repo: String,
    pub revision: String,
    pub include: Vec<String>,
    /// The catalog entry it came from, if any.
    pub catalog_id: Option<String>,
}

impl ModelSpec {
    /// Parses a catalog id or `org/repo[@revision]`. An empty `include` means every file.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if let Some(entry) = find(text) {
            return Ok(Self::from_entry(entry));
        }
        let (repo, revision) = match text.split_once('@') {
            Some((r, rev)) => (r, rev),
            None => (text, "main"),
        };
        if !is_repo_id(repo) || !is_revision(revision) {
            return Err(HubError::InvalidModelId(text.to_string()));
        }
        Ok(Self {
            repo: repo.to_string(),
            revision: revision.to_string(),
            include: Vec::new(),
            catalog_id: None,
        })
    }

    pub fn from_entry(entry: &CatalogEntry) -> Self {
        Self {
            repo: entry.repo.to_string(),
            revision: entry.revision.to_string(),
            include: entry.include.iter().map(|s| s.to_string()).collect(),
            catalog_id: Some(entry.id.to_string()),
        }
    }

    /// Whether `file` (a path inside the repository) is wanted.
    pub fn wants(&self, file: &str) -> bool {
        self.include.is_empty() || self.include.iter().any(|g| glob_match(g, file))
    }
}

/// `org/name`, each part made of letters, digits, `-`, `_`, `.`, not starting with `.` or `-`,
/// no `--` or `..` (the hub's own rules, so the cache folder name is unambiguous).
pub fn is_repo_id(s: &str) -> bool {
    let Some((org, name)) = s.split_once('/') else {
        return false;
    };
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 96
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !p.starts_with(['-', '.'])
            && !p.ends_with(['-', '.'])
            && !p.contains("--")
            && !p.contains("..")
    };
    part_ok(org) && part_ok(name)
}

fn is_revision(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && !s.contains("..")
        && !s.starts_with('/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

/// Whether `rev` is a full commit hash (then no `refs/` file is written, as in Python).
pub fn is_commit_hash(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Shell-style glob on `/`-separated paths: `*` matches within one path segment, `**` across
/// segments, `?` one character. Everything else is literal.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn rec(p: &[u8], t: &[u8]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some(b'*') if p.get(1) == Some(&b'*') => {
                let rest = &p[2..];
                let rest = rest.strip_prefix(b"/").unwrap_or(rest);
                (0..=t.len()).any(|i| rec(rest, &t[i..]))
            }
            Some(b'*') => {
                let rest = &p[1..];
                let mut i = 0;
                loop {
                    if rec(rest, &t[i..]) {
                        return true;
                    }
                    if i == t.len() || t[i] == b'/' {
                        return false;
                    }
                    i += 1;
                }
            }
            Some(b'?') => !t.is_empty() && t[0] != b'/' && rec(&p[1..], &t[1..]),
            Some(c) => t.first() == Some(c) && rec(&p[1..], &t[1..]),
        }
    }
    rec(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_default_is_engine_ready() {
        let mut ids: Vec<_> = catalog().iter().map(|e| e.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), catalog().len());
        assert!(default_entry().engine_ready);
        assert_eq!(default_entry().id, DEFAULT_MODEL);
        for e in catalog() {
            assert!(is_repo_id(e.repo), "{}", e.repo);
            assert!(!e.revision.is_empty());
            if e.format == Format::Gguf {
                assert!(e.gguf_model.is_some() && e.gguf_mmproj.is_some());
            }
        }
    }

    #[test]
    fn specs_parse() {
        let s = ModelSpec::parse("smolvlm-256m").unwrap();
        assert_eq!(s.repo, "HuggingFaceTB/SmolVLM-256M-Instruct");
        assert_eq!(s.catalog_id.as_deref(), Some("smolvlm-256m"));
        let s = ModelSpec::parse("org/repo@v1.0").unwrap();
        assert_eq!((s.repo.as_str(), s.revision.as_str()), ("org/repo", "v1.0"));
        assert!(s.include.is_empty());
        for bad in [
            "",
            "noslash",
            "a/b/c",
            "../x",
            "a--b/c",
            "org/repo@",
            "org/repo@../x",
            "/abs/path",
        ] {
            assert_eq!(
                ModelSpec::parse(bad).unwrap_err().code(),
                "invalid_model_id",
                "{bad}"
            );
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.json", "config.json"));
        assert!(!glob_match("*.json", "onnx/config.json"));
        assert!(glob_match("**/*.json", "onnx/config.json"));
        assert!(glob_match("**.json", "a/b/c.json"));
        assert!(glob_match("model-?.gguf", "model-1.gguf"));
        assert!(!glob_match("model-?.gguf", "model-12.gguf"));
        assert!(glob_match("mmproj-*", "mmproj-f16.gguf"));
    }
}
