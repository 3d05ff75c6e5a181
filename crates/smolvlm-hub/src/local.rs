//! Models the user already has on disk, registered by path (the app does it by drag-and-drop):
//! a GGUF text model with its vision projector, a lone text GGUF (text only, said plainly), or a
//! Hugging Face model folder. Anything else is refused with a clear reason. Registering never
//! copies, moves or deletes the user's files.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{HubError, Result};

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
        Some(info) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let projectors = find_projectors(dir)?;
            Ok(gguf_model(path, info, projectors.into_iter().next()))
        }
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
            Ok(gguf_model(&file, info, projectors.into_iter().next()))
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

fn find_projectors(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for file in sorted_files(dir)? {
        if file.extension().is_some_and(|e| e == "gguf")
            && let Some(info) = read_gguf_header(&file)?
            && info.is_projector()
        {
            out.push(file);
        }
    }
    Ok(out)
}

/// The metadata keys that matter here.
#[derive(Debug, Clone, Default)]
pub struct GgufInfo {
    pub architecture: Option<String>,
    pub file_type: Option<String>,
    pub name: Option<String>,
}

impl GgufInfo {
    pub fn is_projector(&self) -> bool {
        self.architecture.as_deref() == Some("clip") || self.file_type.as_deref() == Some("mmproj")
    }
}

/// `None` when the file is not GGUF; an error when it claims to be and is malformed.
pub fn read_gguf_header(path: &Path) -> Result<Option<GgufInfo>> {
    let file = std::fs::File::open(path).map_err(|e| HubError::io(path, e))?;
    let mut r = BufReader::new(file);
    let mut magic = [0u8; 4];
    if r.read_exact(&mut magic).is_err() || &magic != b"GGUF" {
        return Ok(None);
    }
    let bad = |why: &str| not_a_model(path, &format!("malformed GGUF header: {why}"));
    let version = read_u32(&mut r).map_err(|_| bad("truncated"))?;
    if !(2..=3).contains(&version) {
        return Err(bad(&format!("unsupported GGUF version {version}")));
    }
    let _tensors = read_u64(&mut r).map_err(|_| bad("truncated"))?;
    let kvs = read_u64(&mut r).map_err(|_| bad("truncated"))?;
    if kvs > 1 << 20 {
        return Err(bad("too many metadata entries"));
    }
    let mut info = GgufInfo::default();
    for _ in 0..kvs {
        let key = read_string(&mut r, 1 << 16).map_err(|_| bad("bad key"))?;
        let ty = read_u32(&mut r).map_err(|_| bad("truncated"))?;
        let wanted = matches!(
            key.as_str(),
            "general.architecture" | "general.type" | "general.name"
        );
        if ty == 8 && wanted {
            let v = read_string(&mut r, 1 << 16).map_err(|_| bad("bad string"))?;
            match key.as_str() {
                "general.architecture" => info.architecture = Some(v),
                "general.type" => info.file_type = Some(v),
                _ => info.name = Some(v),
            }
        } else {
            skip_value(&mut r, ty, 0).map_err(|e| bad(&e))?;
        }
        if info.architecture.is_some() && info.file_type.is_some() && info.name.is_some() {
            break;
        }
    }
    Ok(Some(info))
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn read_string(r: &mut impl Read, max: u64) -> std::io::Result<String> {
    let len = read_u64(r)?;
    if len > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "string too long",
        ));
    }
    let mut b = vec![0u8; len as usize];
    r.read_exact(&mut b)?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

fn skip_value<R: Read + Seek>(r: &mut R, ty: u32, depth: u32) -> std::result::Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let fixed = match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    };
    if let Some(n) = fixed {
        return r.seek(SeekFrom::Current(n)).map(|_| ()).map_err(io);
    }
    match ty {
        8 => {
            let len = read_u64(r).map_err(io)?;
            if len > 1 << 30 {
                return Err("string too long".into());
            }
            r.seek(SeekFrom::Current(len as i64))
                .map(|_| ())
                .map_err(io)
        }
        9 if depth < 4 => {
            let inner = read_u32(r).map_err(io)?;
            let count = read_u64(r).map_err(io)?;
            if count > 1 << 28 {
                return Err("array too long".into());
            }
            let size = match inner {
                0 | 1 | 7 => 1,
                2 | 3 => 2,
                4..=6 => 4,
                10..=12 => 8,
                _ => 0,
            };
            if size > 0 {
                r.seek(SeekFrom::Current((count * size) as i64))
                    .map(|_| ())
                    .map_err(io)
            } else {
                for _ in 0..count {
                    skip_value(r, inner, depth + 1)?;
                }
                Ok(())
            }
        }
        _ => Err(format!("unknown metadata type {ty}")),
    }
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
