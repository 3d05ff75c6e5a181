//! Which models a request may name: the shell's catalog ([`ModelCatalog`]) plus whatever the
//! worker has loaded, and the choice a request's `model` field makes among them.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use smolvlm::LoadOptions;
use smolvlm_openai::{ModelList, ModelObject};
use smolvlm_worker::{ModelChoice, ModelInfo};

use crate::error::{ApiError, ErrorKind};
use axum::http::StatusCode;

/// One model a request may name by `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogModel {
    pub id: String,
    /// What [`smolvlm::SmolVlmModel::load`] takes: a model folder or a GGUF file.
    pub path: PathBuf,
    /// The vision projector of a GGUF text model.
    pub mmproj: Option<PathBuf>,
    /// Unix seconds (OpenAI's `created`); when it was installed.
    pub created: u64,
}

/// The models a shell offers (the CLI: the hub's installed models and the one on its command
/// line; the app: its model manager's). Asked on every request, so it may change while serving.
pub trait ModelCatalog: Send + Sync {
    fn models(&self) -> Vec<CatalogModel>;
}

/// A fixed list, for shells whose models do not change while serving (and tests).
#[derive(Debug, Clone, Default)]
pub struct StaticCatalog(pub Vec<CatalogModel>);

impl ModelCatalog for StaticCatalog {
    fn models(&self) -> Vec<CatalogModel> {
        self.0.clone()
    }
}

/// Unix seconds of a file's last change, 0 when unknown: OpenAI's `created` for a model.
pub fn created_of(path: &Path) -> u64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// Whether two paths name the same model (as given, or once links are resolved).
fn same_path(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// The id the loaded model answers to: its catalog id, else its folder or file name.
pub fn loaded_id(models: &[CatalogModel], loaded: &ModelInfo) -> String {
    models
        .iter()
        .find(|m| same_path(&m.path, &loaded.path))
        .map_or_else(|| loaded.name.clone(), |m| m.id.clone())
}

/// `GET /v1/models`: the loaded model first when the catalog does not hold it, then the catalog.
pub fn list(models: &[CatalogModel], loaded: Option<&ModelInfo>) -> ModelList {
    let mut data = Vec::with_capacity(models.len() + 1);
    let in_catalog = loaded.is_some_and(|l| models.iter().any(|m| same_path(&m.path, &l.path)));
    if let Some(l) = loaded
        && !in_catalog
    {
        data.push(object(l.name.clone(), created_of(&l.path), true));
    }
    for m in models {
        let is_loaded = loaded.is_some_and(|l| same_path(&m.path, &l.path));
        data.push(object(m.id.clone(), m.created, is_loaded));
    }
    ModelList {
        object: "list".into(),
        data,
    }
}

fn object(id: String, created: u64, loaded: bool) -> ModelObject {
    ModelObject {
        id,
        object: "model".into(),
        created,
        owned_by: "smolvlm".into(),
        loaded,
    }
}

/// What a request's `model` picks: the id to answer with, and the model the worker must have
/// loaded for it (`None`: whatever is loaded when the job runs).
#[derive(Debug, Clone)]
pub struct Choice {
    pub id: String,
    pub model: Option<ModelChoice>,
}

pub fn choose(
    requested: &str,
    models: &[CatalogModel],
    loaded: Option<&ModelInfo>,
    template: &LoadOptions,
) -> Result<Choice, ApiError> {
    let requested = requested.trim();
    if requested.is_empty() {
        return match loaded {
            Some(l) => Ok(Choice {
                id: loaded_id(models, l),
                model: None,
            }),
            None => Err(ApiError::invalid(
                "no_model_loaded",
                "no model is loaded; name one of GET /v1/models in `model`",
            )
            .with_param("model")),
        };
    }
    if let Some(m) = models.iter().find(|m| m.id == requested) {
        // The loaded model's own path, so the worker sees it is loaded and does not reload it.
        let path = match loaded {
            Some(l) if same_path(&l.path, &m.path) => l.path.clone(),
            _ => m.path.clone(),
        };
        let options = LoadOptions {
            mmproj: m.mmproj.clone(),
            ..template.clone()
        };
        return Ok(Choice {
            id: m.id.clone(),
            model: Some(ModelChoice { path, options }),
        });
    }
    match loaded {
        Some(l) if loaded_id(models, l) == requested => Ok(Choice {
            id: requested.to_string(),
            model: None,
        }),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            "model_not_found",
            format!(
                "the model `{requested}` does not exist; GET /v1/models lists the installed ones"
            ),
        )
        .with_param("model")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(path: &str) -> ModelInfo {
        ModelInfo {
            path: path.into(),
            name: "folder".into(),
            device: "cpu".into(),
            kernels: None,
            threads: 1,
            device_notice: None,
            has_vision: true,
            context_length: 100,
            load_s: 0.0,
        }
    }

    fn cat() -> Vec<CatalogModel> {
        vec![CatalogModel {
            id: "a".into(),
            path: "/models/a".into(),
            mmproj: Some("/models/a-mmproj.gguf".into()),
            created: 7,
        }]
    }

    #[test]
    fn an_empty_model_is_the_loaded_one_or_an_error() {
        let c = choose(
            "",
            &cat(),
            Some(&info("/models/a")),
            &LoadOptions::default(),
        )
        .unwrap();
        assert_eq!(c.id, "a");
        assert!(c.model.is_none());
        let e = choose(" ", &cat(), None, &LoadOptions::default()).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("no_model_loaded"));
        assert_eq!(e.param.as_deref(), Some("model"));
    }

    #[test]
    fn a_catalog_model_is_loaded_with_its_projector_and_others_are_404() {
        let c = choose("a", &cat(), None, &LoadOptions::default()).unwrap();
        let m = c.model.unwrap();
        assert_eq!(m.path, PathBuf::from("/models/a"));
        assert_eq!(
            m.options.mmproj,
            Some(PathBuf::from("/models/a-mmproj.gguf"))
        );
        let e = choose(
            "b",
            &cat(),
            Some(&info("/x/folder")),
            &LoadOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.code.as_deref(), Some("model_not_found"));
        // A loaded model outside the catalog answers to its folder name.
        let c = choose(
            "folder",
            &cat(),
            Some(&info("/x/folder")),
            &LoadOptions::default(),
        )
        .unwrap();
        assert!(c.model.is_none());
    }

    #[test]
    fn the_list_marks_the_loaded_model() {
        let l = list(&cat(), Some(&info("/models/a")));
        assert_eq!(l.data.len(), 1);
        assert!(l.data[0].loaded);
        let l = list(&cat(), Some(&info("/x/folder")));
        assert_eq!(
            l.data
                .iter()
                .map(|m| (m.id.as_str(), m.loaded))
                .collect::<Vec<_>>(),
            [("folder", true), ("a", false)]
        );
        assert!(list(&cat(), None).data.iter().all(|m| !m.loaded));
    }
}
