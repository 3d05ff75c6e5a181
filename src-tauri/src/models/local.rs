//! Local models the user adds by path, remembered in `<data>/local-models.json` (a text-model
//! GGUF with the projector the hub's pairing policy finds beside it).

use std::path::Path;

use sha2::{Digest, Sha256};

use super::{LocalModel, ModelManager};
use crate::error::{AppError, AppResult};
use crate::store::write_owned;
use crate::sync::lock;

impl ModelManager {
    pub fn local_models(&self) -> AppResult<Vec<LocalModel>> {
        let _g = lock(&self.local_guard);
        self.read_local()
    }

    /// Checks what `path` is and remembers it; answers the entry and whether it is new.
    pub fn remember_local(&self, path: &Path) -> AppResult<(LocalModel, bool)> {
        let found = smolvlm_hub::inspect(path)?;
        let mmproj = found.mmproj;
        let path_text = found.path.display().to_string();
        let model = LocalModel {
            id: local_id(&path_text),
            name: found.name,
            path: path_text,
            mmproj: mmproj.map(|p| p.display().to_string()),
        };
        let _g = lock(&self.local_guard);
        let mut all = self.read_local()?;
        let new = match all.iter_mut().find(|m| m.id == model.id) {
            Some(existing) => {
                *existing = model.clone();
                false
            }
            None => {
                all.push(model.clone());
                true
            }
        };
        self.write_local(&all)?;
        Ok((model, new))
    }

    pub fn forget_local(&self, id: &str) -> AppResult<()> {
        let _g = lock(&self.local_guard);
        let mut all = self.read_local()?;
        let before = all.len();
        all.retain(|m| m.id != id);
        if all.len() == before {
            return Err(AppError::NotFound {
                what: format!("local model {id}"),
            });
        }
        self.write_local(&all)
    }

    fn read_local(&self) -> AppResult<Vec<LocalModel>> {
        match std::fs::read(&self.local_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AppError::Corrupt {
                path: self.local_path.clone(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(AppError::storage(&self.local_path, e)),
        }
    }

    fn write_local(&self, all: &[LocalModel]) -> AppResult<()> {
        let bytes = serde_json::to_vec_pretty(all).map_err(|e| AppError::Corrupt {
            path: self.local_path.clone(),
            reason: e.to_string(),
        })?;
        write_owned(self.read_only.as_ref(), &self.local_path, &bytes)
    }
}

fn local_id(path: &str) -> String {
    let digest = hex::encode(Sha256::digest(path.as_bytes()));
    format!("local-{}", &digest[..12])
}
