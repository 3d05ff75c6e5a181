//! Models the user already has on disk, registered by path (the app does it by drag-and-drop):
//! a GGUF text model with its vision projector, a lone text GGUF (text only, said plainly), or a
//! Hugging Face model folder. Anything else is refused with a clear reason. Registering never
//! copies, moves or deletes the user's files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{HubError, Result};
pub use crate::gguf::{GgufInfo, read_gguf_header};
use crate::pairing::pair_mmproj;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalKind {
    /// A Hugging Face folder: config.json, tokenizer, safetensors.
    HfFolder,
    /// A GGUF text model and its GGUF vision projector.
    GgufPair,
    /// A GGUF text model without a projector: it can only answer text.
    GgufTextOnly,
}

/// What a path holds, as far as loading it is concerned.
#[derive(Debug, Clone, Serialize)]
pub struct LocalModel {
    pub kind: LocalKind,
    /// The folder or the text-model GGUF.
    pub path: PathBuf,
    pub mmproj: Option<PathBuf>,
    /// `general.name` of a GGUF, the folder name otherwise.
    pub name: String,
    /// Whether it can look at images.
    pub vision: bool,
    /// Plain-language remarks for the user (what is missing and what that means).
    pub notes: Vec<String>,
}

const SMOLVLM_TYPES: &[&str] = &["idefics3", "smolvlm"];

/// Works out what `path` is; `NotAModel` with the reason when it is not something loadable.
pub fn inspect(path: &Path) -> Result<LocalModel> {
    let meta = std::fs::metadata(path).map_err(|e| HubError::io(path, e))?;
    if meta.is_dir() {
        if path.join("config.json").is_file() {
            return inspect_hf_folder(path);
        }
        return inspect_gguf_folder(path);
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if (name == "config.json" || name.ends_with(".safetensors"))
        && let Some(dir) = path.parent().filter(|d| d.join("config.json").is_file())
    {
        return inspect_hf_folder(dir);
    }
    match read_gguf_header(path)? {
        Some(info) if info.is_projector() => Err(not_a_model(
            path,
            "this is a vision projector (mmproj), not a language model; add the text-model GGUF it belongs to",
        )),
        Some(info) => Ok(gguf_model(path, info, pair_mmproj(path)?)),
        None => Err(not_a_model(
            path,
            "it is neither a GGUF file nor a Hugging Face model folder (config.json, tokenizer, safetensors)",
        )),
    }
}

fn not_a_model(path: &Path, reason: &str) -> HubError {
    HubError::NotAModel {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn gguf_model(path: &Path, info: GgufInfo, mmproj: Option<PathBuf>) -> LocalModel {
    let name = info.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let mut notes = Vec::new();
    let kind = if mmproj.is_some() {
        LocalKind::GgufPair
    } else {
        notes.push(
            "no vision projector (mmproj-*.gguf) next to it: this model answers text only and \
             cannot look at images; add its mmproj file to use images"
                .to_string(),
        );
        LocalKind::GgufTextOnly
    };
    LocalModel {
        kind,
        path: path.to_path_buf(),
        vision: mmproj.is_some(),
        mmproj,
        name,
        notes,
    }
}

fn inspect_gguf_folder(dir: &Path) -> Result<LocalModel> {
    let mut texts = Vec::new();
    let mut projectors = Vec::new();
    for file in sorted_files(dir)? {
        if let Some(info) = read_gguf_header(&file)? {
            if info.is_projector() {
                projectors.push(file);
            } else {
                texts.push((file, info));
            }
        }
    }
    match texts.len() {
        0 if projectors.is_empty() => Err(not_a_model(
            dir,
            "the folder has no config.json and no GGUF file",
        )),
        0 => Err(not_a_model(
            dir,
            "the folder only has a vision projector (mmproj); the text-model GGUF is missing",
        )),
        1 => {
            let (file, info) = texts.remove(0);
            let mmproj = pair_mmproj(&file)?;
            Ok(gguf_model(&file, info, mmproj))
        }
        n => Err(not_a_model(
            dir,
            &format!(
                "the folder has {n} text-model GGUF files; register the one you want by its file"
            ),
        )),
    }
}

fn inspect_hf_folder(dir: &Path) -> Result<LocalModel> {
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|e| HubError::io(&config_path, e))?;
    let config: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| not_a_model(dir, &format!("config.json is not valid JSON: {e}")))?;
    let model_type = config
        .get("model_type")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    if !SMOLVLM_TYPES.contains(&model_type) {
        return Err(not_a_model(
            dir,
            &format!(
                "config.json says model_type {model_type:?}; SmolVLM Desktop runs SmolVLM models \
                 (idefics3 / smolvlm)"
            ),
        ));
    }
    let files = sorted_files(dir)?;
    let has = |n: &str| files.iter().any(|f| f.file_name().is_some_and(|x| x == n));
    let mut missing = Vec::new();
    if !files
        .iter()
        .any(|f| f.extension().is_some_and(|e| e == "safetensors"))
    {
        missing.push("the weights (*.safetensors)");
    }
    if !has("tokenizer.json") {
        missing.push("tokenizer.json");
    }
    if !has("preprocessor_config.json") {
        missing.push("preprocessor_config.json (image settings)");
    }
    if !missing.is_empty() {
        return Err(not_a_model(
            dir,
            &format!("the Hugging Face folder lacks {}", missing.join(", ")),
        ));
    }
    let mut notes = Vec::new();
    if !has("chat_template.json") && !has("chat_template.jinja") {
        notes.push(
            "no chat_template.json: the template in tokenizer_config.json is used if present"
                .into(),
        );
    }
    Ok(LocalModel {
        kind: LocalKind::HfFolder,
        path: dir.to_path_buf(),
        mmproj: None,
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        vision: true,
        notes,
    })
}

fn sorted_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| HubError::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    Ok(out)
}

/// A registered local model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RegisteredModel {
    /// `local:<name>`, unique in the registry.
    pub id: String,
    pub name: String,
    pub kind: LocalKind,
    pub path: PathBuf,
    pub mmproj: Option<PathBuf>,
    pub vision: bool,
}

/// The list of registered local models, a JSON file.
#[derive(Debug, Clone)]
pub struct LocalRegistry {
    path: PathBuf,
}

impl LocalRegistry {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// `SMOLVLM_HOME/local-models.json`, else the platform data folder
    /// (`~/.local/share/smolvlm-desktop/local-models.json` on Linux).
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("SMOLVLM_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| dirs::data_dir().map(|d| d.join("smolvlm-desktop")))?;
        Some(base.join("local-models.json"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn list(&self) -> Result<Vec<RegisteredModel>> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| HubError::Registry {
                path: self.path.clone(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(HubError::io(&self.path, e)),
        }
    }

    /// Inspects `path` and adds it; the same model registered twice keeps its first entry.
    pub fn register(&self, path: &Path, name: Option<&str>) -> Result<RegisteredModel> {
        let abs = std::path::absolute(path).map_err(|e| HubError::io(path, e))?;
        let model = inspect(&abs)?;
        let mut all = self.list()?;
        if let Some(existing) = all.iter().find(|m| m.path == model.path) {
            return Ok(existing.clone());
        }
        let base = slug(name.unwrap_or(&model.name));
        let mut id = format!("local:{base}");
        let mut n = 2;
        while all.iter().any(|m| m.id == id) {
            id = format!("local:{base}-{n}");
            n += 1;
        }
        let entry = RegisteredModel {
            id,
            name: name.map(str::to_string).unwrap_or(model.name),
            kind: model.kind,
            path: model.path,
            mmproj: model.mmproj,
            vision: model.vision,
        };
        all.push(entry.clone());
        self.save(&all)?;
        Ok(entry)
    }

    /// Forgets a registered model; its files are left alone.
    pub fn unregister(&self, id: &str) -> Result<RegisteredModel> {
        let mut all = self.list()?;
        let pos = all
            .iter()
            .position(|m| m.id == id)
            .ok_or_else(|| HubError::NotInstalled {
                what: id.to_string(),
            })?;
        let removed = all.remove(pos);
        self.save(&all)?;
        Ok(removed)
    }

    fn save(&self, all: &[RegisteredModel]) -> Result<()> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| HubError::io(parent, e))?;
        }
        let text = serde_json::to_string_pretty(all).map_err(|e| HubError::Registry {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| HubError::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| HubError::io(&self.path, e))
    }
}

fn slug(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let out = out.trim_matches('-').to_string();
    if out.is_empty() { "model".into() } else { out }
}
