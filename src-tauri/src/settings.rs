//! The user's settings, one JSON file in the app data dir (`<data>/settings.json`, written
//! atomically). Missing or unreadable settings are the defaults; missing keys take their default,
//! so a file from an older version still loads.
//!
//! What they drive: the generation settings are the defaults of `send_message` for every field
//! the UI leaves out; `systemPrompt` (when not blank) opens every conversation sent to the model;
//! `threads` and `device` apply on the next model load; `resolution` is the default image
//! resolution preset; `theme` is the UI's alone; `lastModel` is set by every successful load;
//! `localApi` starts and stops the app's API server as it is saved (`crate::local_api`);
//! `backend` picks the connection that answers the chat (`crate::remote`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use smolvlm::DevicePreference;
use smolvlm::image::Resolution;

use crate::connections::{self, Connection, LocalApiSettings};
use crate::error::{AppError, AppResult};
use crate::store::{ReadOnly, write_owned};
use crate::sync::lock;
use crate::validate::{self, GenerationSettings};

/// Most compute threads one may ask for.
pub const MAX_THREADS: usize = 256;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Settings {
    /// 0 is greedy decoding.
    #[specta(type = crate::foreign::Finite)]
    pub temperature: f64,
    /// 1 keeps every token (no nucleus filtering).
    #[specta(type = crate::foreign::Finite)]
    pub top_p: f64,
    /// 0 keeps every token (no top-k filtering).
    pub top_k: usize,
    pub max_new_tokens: usize,
    #[specta(type = crate::foreign::Finite)]
    pub repetition_penalty: f32,
    pub system_prompt: String,
    /// Compute threads for the CPU; 0 lets the engine decide. Applied on the next load.
    pub threads: usize,
    /// Applied on the next load.
    #[specta(type = crate::foreign::DevicePreference)]
    pub device: DevicePreference,
    /// The default image resolution, a preset from the loaded model's tile (`standard`: the
    /// model's own longest edge).
    #[specta(type = crate::foreign::Resolution)]
    pub resolution: Resolution,
    /// Read from settings files written before `resolution` (tiles along the longest edge), and
    /// turned into the nearest preset on open; never written.
    #[serde(rename = "longestEdgeTiles", skip_serializing)]
    #[specta(skip)]
    pub(crate) legacy_longest_edge_tiles: Option<u32>,
    pub theme: Theme,
    /// The model loaded last (a folder or `.gguf` path), for the next start.
    pub last_model: Option<String>,
    /// The app's OpenAI-compatible server (off by default).
    pub local_api: LocalApiSettings,
    /// OpenAI-compatible servers the chat may answer with.
    pub connections: Vec<Connection>,
    /// The connection (id) that answers the chat; none: this computer's model.
    pub backend: Option<String>,
}

impl Default for Settings {
    /// The engine's own defaults (`smolvlm::SamplingParams::default()`).
    fn default() -> Self {
        let p = smolvlm::SamplingParams::default();
        Self {
            temperature: p.temperature,
            top_p: p.top_p.unwrap_or(1.0),
            top_k: p.top_k.unwrap_or(0),
            max_new_tokens: p.max_new_tokens,
            repetition_penalty: p.repetition_penalty,
            system_prompt: String::new(),
            threads: 0,
            device: DevicePreference::Auto,
            resolution: Resolution::Standard,
            legacy_longest_edge_tiles: None,
            theme: Theme::System,
            last_model: None,
            local_api: LocalApiSettings::default(),
            connections: Vec::new(),
            backend: None,
        }
    }
}

impl Settings {
    /// Refuses out-of-range values with `invalid_input` (the same bounds `send_message` uses).
    pub fn validate(&self) -> AppResult<()> {
        self.as_generation(&GenerationSettings::default())
            .to_params()?;
        // 1 and 0 mean "off" and are left out above; the rest must be in range.
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(AppError::invalid(format!(
                "topP must be in (0, 1]; got {}",
                self.top_p
            )));
        }
        if self.top_k > 1000 {
            return Err(AppError::invalid(format!(
                "topK must be between 0 (off) and 1000; got {}",
                self.top_k
            )));
        }
        validate::text(
            &self.system_prompt,
            "the system prompt",
            validate::MAX_TEXT_CHARS,
        )?;
        if self.threads > MAX_THREADS {
            return Err(AppError::invalid(format!(
                "threads must be between 0 (automatic) and {MAX_THREADS}; got {}",
                self.threads
            )));
        }
        if let Some(m) = &self.last_model
            && (m.len() > 4096 || m.contains('\0'))
        {
            return Err(AppError::invalid("lastModel is not a usable path"));
        }
        self.local_api.validate()?;
        connections::validate(&self.connections, self.backend.as_deref())?;
        Ok(())
    }

    /// An older file's `longestEdgeTiles` as the preset nearest to it (1 tile was "Low").
    fn migrated(mut self) -> Self {
        if let Some(tiles) = self.legacy_longest_edge_tiles.take() {
            self.resolution = match tiles {
                0..=2 => Resolution::Fast,
                3..=4 => Resolution::Standard,
                _ => Resolution::Document,
            };
        }
        self
    }

    /// `ui` with every field it leaves out taken from these settings. (`longestEdge` is left
    /// to the caller: it depends on the loaded model's tile size.)
    pub fn as_generation(&self, ui: &GenerationSettings) -> GenerationSettings {
        GenerationSettings {
            max_new_tokens: ui.max_new_tokens.or(Some(self.max_new_tokens)),
            temperature: ui.temperature.or(Some(self.temperature)),
            top_k: ui.top_k.or((self.top_k > 0).then_some(self.top_k)),
            top_p: ui.top_p.or((self.top_p < 1.0).then_some(self.top_p)),
            repetition_penalty: ui.repetition_penalty.or(Some(self.repetition_penalty)),
            seed: ui.seed,
            ignore_eos: ui.ignore_eos,
            longest_edge: ui.longest_edge,
        }
    }
}

/// Some or all of the settings' keys, as `save_settings` takes them: overlaid on the current
/// settings by [`SettingsStore::merge`], which checks them.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct SettingsPatch(pub serde_json::Value);

/// The bindings' shape of a [`SettingsPatch`]: every key of [`Settings`], optional.
impl specta::Type for SettingsPatch {
    fn definition(types: &mut specta::Types) -> specta::datatype::DataType {
        SettingsKeys::definition(types)
    }
}

/// [`Settings`] with every key optional (only its TypeScript type is used; kept equal to
/// `Settings` by `tests::settings::the_settings_patch_type_has_every_key`).
#[derive(Serialize, Deserialize, specta::Type)]
#[serde(
    rename = "SettingsPatch",
    rename_all = "camelCase",
    deny_unknown_fields
)]
pub(crate) struct SettingsKeys {
    #[specta(optional)]
    #[specta(type = Option<crate::foreign::Finite>)]
    temperature: Option<f64>,
    #[specta(optional)]
    #[specta(type = Option<crate::foreign::Finite>)]
    top_p: Option<f64>,
    #[specta(optional)]
    top_k: Option<usize>,
    #[specta(optional)]
    max_new_tokens: Option<usize>,
    #[specta(optional)]
    #[specta(type = Option<crate::foreign::Finite>)]
    repetition_penalty: Option<f32>,
    #[specta(optional)]
    system_prompt: Option<String>,
    #[specta(optional)]
    threads: Option<usize>,
    #[specta(optional)]
    #[specta(type = Option<crate::foreign::DevicePreference>)]
    device: Option<DevicePreference>,
    #[specta(optional)]
    #[specta(type = Option<crate::foreign::Resolution>)]
    resolution: Option<Resolution>,
    #[specta(optional)]
    theme: Option<Theme>,
    #[specta(optional)]
    last_model: Option<Option<String>>,
    #[specta(optional)]
    local_api: Option<LocalApiSettings>,
    #[specta(optional)]
    connections: Option<Vec<Connection>>,
    #[specta(optional)]
    backend: Option<Option<String>>,
}

/// The settings file and its current contents.
pub struct SettingsStore {
    path: PathBuf,
    current: Mutex<Settings>,
    /// Set when another instance owns the data folder: saves are refused.
    read_only: Option<ReadOnly>,
}

impl SettingsStore {
    /// Reads `<dir>/settings.json`; a missing, unreadable or invalid file gives the defaults
    /// (logged, and replaced at the next save).
    pub fn open(dir: &Path) -> Self {
        let path = dir.join("settings.json");
        let current = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Settings>(&bytes) {
                Ok(s) if s.validate().is_ok() => s.migrated(),
                Ok(_) | Err(_) => {
                    log::warn!(
                        "{} is not valid settings; using the defaults",
                        path.display()
                    );
                    Settings::default()
                }
            },
            Err(_) => Settings::default(),
        };
        Self {
            path,
            current: Mutex::new(current),
            read_only: None,
        }
    }

    /// Saves refused for `why` (the conversation store's reason, see `crate::store`).
    pub fn read_only(mut self, why: Option<ReadOnly>) -> Self {
        self.read_only = why;
        self
    }

    pub fn get(&self) -> Settings {
        lock(&self.current).clone()
    }

    /// Validates and saves `settings`; the file is replaced atomically.
    pub fn save(&self, settings: Settings) -> AppResult<Settings> {
        settings.validate()?;
        let mut current = lock(&self.current);
        self.write(&settings)?;
        *current = settings.clone();
        Ok(settings)
    }

    /// Applies `f` to the current settings and saves them.
    pub fn update(&self, f: impl FnOnce(&mut Settings)) -> AppResult<Settings> {
        let mut current = lock(&self.current);
        let mut next = current.clone();
        f(&mut next);
        next.validate()?;
        if next != *current {
            self.write(&next)?;
            *current = next.clone();
        }
        Ok(next)
    }

    /// Overlays the keys of a JSON object on the current settings: `{"theme": "dark"}` changes
    /// only the theme. Unknown keys and wrong types are `invalid_input`.
    pub fn merge(&self, patch: serde_json::Value) -> AppResult<Settings> {
        let serde_json::Value::Object(mut patch) = patch else {
            return Err(AppError::invalid("the settings must be an object"));
        };
        // Loads record `lastModel`; the UI's copy may predate the last load (the settings dialog
        // sends its whole object), so what it says of it is not taken.
        patch.remove("lastModel");
        if patch.contains_key("longestEdgeTiles") {
            return Err(AppError::invalid(
                "longestEdgeTiles was replaced by resolution: fast, standard or document",
            ));
        }
        let current = self.get();
        let mut merged = match serde_json::to_value(&current) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        merged.extend(patch);
        let settings: Settings = serde_json::from_value(serde_json::Value::Object(merged))
            .map_err(|e| AppError::invalid(format!("invalid settings: {e}")))?;
        self.save(settings)
    }

    fn write(&self, settings: &Settings) -> AppResult<()> {
        let bytes = serde_json::to_vec_pretty(settings).map_err(|e| AppError::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        write_owned(self.read_only.as_ref(), &self.path, &bytes)
    }
}
