//! The one policy for "which vision projector (mmproj GGUF) goes with this text-model GGUF",
//! used by local-model registration, the CLI and the app.

use std::path::{Path, PathBuf};

use crate::catalog::catalog;
use crate::error::{HubError, Result};
use crate::gguf::read_gguf_header;

/// The vision projector for the text-model GGUF `text_gguf`, looked for in the same folder:
///
/// 1. The catalog's pair: when `text_gguf` has a catalog entry's `gguf_model` name and that
///    entry's `gguf_mmproj` lies beside it, that one (so `…-Q4_K_M.gguf` gets the catalog's
///    `mmproj-…-Q8_0.gguf`).
/// 2. Otherwise the candidates are the other `.gguf` files beside it whose header says they are
///    a projector (`general.architecture = clip` or `general.type = mmproj`); files that are not
///    GGUF or cannot be read are skipped. None: `Ok(None)` (the model answers text only). One:
///    that one.
/// 3. Several: those naming the same model (the name without `mmproj` and without the quant
///    tag, e.g. `mmproj-SmolVLM-256M-Instruct-f16` for `SmolVLM-256M-Instruct-Q8_0`), then among
///    those (or all, if none names it) the one with the same quant tag (the last `-`/`.` part,
///    `model-q8_0` → `mmproj-q8_0`). A single survivor of either step wins.
/// 4. Still several: [`HubError::AmbiguousMmproj`] listing them; the caller must name the
///    projector (the CLI's `--mmproj`) rather than have one guessed.
///
/// Only an unreadable folder is an I/O error.
pub fn pair_mmproj(text_gguf: &Path) -> Result<Option<PathBuf>> {
    let dir = match text_gguf.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = text_gguf.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if let Some(mmproj) = catalog()
        .iter()
        .filter(|e| e.gguf_model == Some(file_name))
        .filter_map(|e| e.gguf_mmproj)
        .map(|p| dir.join(p))
        .find(|p| p.is_file())
    {
        return Ok(Some(mmproj));
    }

    let mut candidates: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| HubError::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name() != text_gguf.file_name() && p.is_file())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        })
        .filter(|p| {
            read_gguf_header(p)
                .ok()
                .flatten()
                .is_some_and(|info| info.is_projector())
        })
        .collect();
    candidates.sort();
    if candidates.len() <= 1 {
        return Ok(candidates.pop());
    }

    let stem = stem_of(text_gguf);
    let (model_core, model_quant) = (core_name(&stem), quant_tag(&stem));
    let same_model: Vec<&PathBuf> = candidates
        .iter()
        .filter(|p| !model_core.is_empty() && core_name(&stem_of(p)) == model_core)
        .collect();
    if let [one] = same_model.as_slice() {
        return Ok(Some((*one).clone()));
    }
    let pool: Vec<&PathBuf> = if same_model.is_empty() {
        candidates.iter().collect()
    } else {
        same_model
    };
    let same_quant: Vec<&PathBuf> = pool
        .iter()
        .copied()
        .filter(|p| model_quant.is_some() && quant_tag(&stem_of(p)) == model_quant)
        .collect();
    if let [one] = same_quant.as_slice() {
        return Ok(Some((*one).clone()));
    }
    Err(HubError::AmbiguousMmproj {
        model: text_gguf.to_path_buf(),
        candidates: pool.into_iter().cloned().collect(),
    })
}

fn stem_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

const SEPARATORS: [char; 2] = ['-', '.'];

/// The quantization tag of a lowercased file stem: its last `-`/`.` part (`q8_0`, `f16`,
/// `q4_k_m`); none for a stem without separators.
fn quant_tag(stem: &str) -> Option<&str> {
    stem.rsplit_once(SEPARATORS)
        .map(|(_, q)| q)
        .filter(|q| !q.is_empty())
}

/// The model a lowercased stem names: its `-`/`.` parts without an `mmproj` part and without
/// the quant tag (`mmproj-smolvlm-256m-instruct-q8_0` → `smolvlm-256m-instruct`,
/// `llava-7b-mmproj-f16` → `llava-7b`).
fn core_name(stem: &str) -> String {
    let mut parts: Vec<&str> = stem.split(SEPARATORS).filter(|p| !p.is_empty()).collect();
    if quant_tag(stem).is_some() {
        parts.pop();
    }
    parts.retain(|p| *p != "mmproj");
    parts.join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-smolvlm")
    }

    /// Copies fixture `from` into `dir` as `to`.
    fn put(dir: &Path, from: &str, to: &str) -> PathBuf {
        let p = dir.join(to);
        std::fs::copy(fixture().join(from), &p).unwrap();
        p
    }

    const TEXT: &str = "model-q8_0.gguf";
    const PROJ: &str = "mmproj-q8_0.gguf";

    #[test]
    fn names_split_into_model_and_quant() {
        assert_eq!(quant_tag("smolvlm-instruct-q4_k_m"), Some("q4_k_m"));
        assert_eq!(quant_tag("model.f16"), Some("f16"));
        assert_eq!(quant_tag("model"), None);
        assert_eq!(
            core_name("mmproj-smolvlm-256m-instruct-q8_0"),
            "smolvlm-256m-instruct"
        );
        assert_eq!(
            core_name("smolvlm-256m-instruct-q8_0"),
            "smolvlm-256m-instruct"
        );
        assert_eq!(core_name("llava-7b-mmproj-f16"), "llava-7b");
        assert_eq!(core_name("mmproj-f16"), "");
    }

    #[test]
    fn no_projector_is_none_and_a_lone_one_is_taken() {
        let tmp = tempfile::tempdir().unwrap();
        let text = put(tmp.path(), TEXT, TEXT);
        // Not GGUF, a text model, or a broken file: not candidates.
        std::fs::write(tmp.path().join("mmproj-junk.gguf"), b"not gguf").unwrap();
        put(tmp.path(), "model-f16.gguf", "other-f16.gguf");
        assert_eq!(pair_mmproj(&text).unwrap(), None);
        // Any name, as long as the header says projector.
        let proj = put(tmp.path(), PROJ, "vision-tower-f16.gguf");
        assert_eq!(pair_mmproj(&text).unwrap(), Some(proj));
    }

    #[test]
    fn the_matching_quant_wins_among_several() {
        let tmp = tempfile::tempdir().unwrap();
        let q8 = put(tmp.path(), TEXT, TEXT);
        let f16 = put(tmp.path(), "model-f16.gguf", "model-f16.gguf");
        let p_q8 = put(tmp.path(), PROJ, PROJ);
        let p_f16 = put(tmp.path(), "mmproj-f16.gguf", "mmproj-f16.gguf");
        assert_eq!(pair_mmproj(&q8).unwrap(), Some(p_q8));
        assert_eq!(pair_mmproj(&f16).unwrap(), Some(p_f16));
    }

    #[test]
    fn the_same_model_wins_over_the_same_quant() {
        let tmp = tempfile::tempdir().unwrap();
        let text = put(tmp.path(), TEXT, "SmolVLM-256M-Instruct-Q8_0.gguf");
        let own = put(tmp.path(), PROJ, "mmproj-SmolVLM-256M-Instruct-f16.gguf");
        put(tmp.path(), PROJ, "mmproj-SmolVLM-500M-Instruct-Q8_0.gguf");
        assert_eq!(pair_mmproj(&text).unwrap(), Some(own));
    }

    #[test]
    fn the_catalog_pair_wins_where_names_do_not_match() {
        let tmp = tempfile::tempdir().unwrap();
        let text = put(tmp.path(), TEXT, "SmolVLM-Instruct-Q4_K_M.gguf");
        let catalog_pair = put(tmp.path(), PROJ, "mmproj-SmolVLM-Instruct-Q8_0.gguf");
        put(tmp.path(), PROJ, "mmproj-SmolVLM-Instruct-f16.gguf");
        assert_eq!(pair_mmproj(&text).unwrap(), Some(catalog_pair));
    }

    #[test]
    fn several_projectors_with_no_clear_owner_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let text = put(tmp.path(), TEXT, "model-q4_k_m.gguf");
        let a = put(tmp.path(), PROJ, "mmproj-f16.gguf");
        let b = put(tmp.path(), PROJ, "mmproj-q8_0.gguf");
        match pair_mmproj(&text) {
            Err(HubError::AmbiguousMmproj { model, candidates }) => {
                assert_eq!(model, text);
                assert_eq!(candidates, vec![a, b]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(pair_mmproj(&text).unwrap_err().code(), "ambiguous_mmproj");
    }

    #[test]
    fn an_unreadable_folder_is_an_io_error() {
        let err = pair_mmproj(Path::new("/no/such/folder/model.gguf")).unwrap_err();
        assert!(matches!(err, HubError::Io { .. }), "{err}");
    }
}
