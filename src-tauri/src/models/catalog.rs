//! The catalog as the app shows it: each entry with what is installed and what is partly
//! downloaded.

use std::path::{Path, PathBuf};

use smolvlm_hub::ModelSpec;
use smolvlm_hub::catalog::{self, CatalogEntry, Format};

use super::{CatalogModel, ModelManager};
use crate::error::{AppError, AppResult};

impl ModelManager {
    /// The catalog with what is installed and what is partly downloaded.
    pub fn catalog(&self) -> AppResult<Vec<CatalogModel>> {
        let hub = self.hub()?;
        Ok(catalog::catalog()
            .iter()
            .map(|e| {
                let installed_path = hub
                    .locate(&ModelSpec::from_entry(e))
                    .ok()
                    .map(|snap| load_path(e, &snap.dir));
                CatalogModel {
                    id: e.id.to_string(),
                    repo: e.repo.to_string(),
                    title: title(e),
                    format: e.format,
                    quant: (e.format == Format::Gguf).then(|| e.precision.to_string()),
                    download_bytes: e.approx_download_bytes,
                    memory_bytes: e.approx_memory_bytes,
                    tokens_per_tile: e.tokens_per_tile,
                    tile_size: e.tile_px,
                    good_for: e.good_for.to_string(),
                    is_default: e.id == catalog::DEFAULT_MODEL,
                    installed: installed_path.is_some(),
                    partial_bytes: if installed_path.is_some() {
                        0
                    } else {
                        smolvlm_hub::cache::partial_bytes(&self.cache().repo_dir(e.repo))
                    },
                    installed_path: installed_path.map(|p| p.display().to_string()),
                }
            })
            .collect())
    }
}

pub(super) fn catalog_entry(id: &str) -> AppResult<&'static CatalogEntry> {
    if id.is_empty() || id.len() > 128 {
        return Err(AppError::invalid(format!("{id:?} is not a catalog id")));
    }
    catalog::find(id).ok_or_else(|| AppError::NotFound {
        what: format!("catalog model {id:?}"),
    })
}

fn title(e: &CatalogEntry) -> String {
    match e.format {
        Format::Safetensors => e.model.to_string(),
        Format::Gguf => format!("{} ({} GGUF)", e.model, e.precision),
    }
}

/// What `load_model` takes for an installed catalog model.
pub(super) fn load_path(e: &CatalogEntry, snapshot: &Path) -> PathBuf {
    match e.gguf_model {
        Some(file) => snapshot.join(file),
        None => snapshot.to_path_buf(),
    }
}
