//! What the text side reads from `tokenizer_config.json`.

use std::path::Path;

use serde_json::Value as Json;

use crate::error::{Result, TextError, read_json};

/// transformers' `SpecialTokensMixin.SPECIAL_TOKENS_ATTRIBUTES`, in its order.
pub(crate) const NAMED_SPECIAL_TOKENS: [&str; 7] = [
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
];

/// The parts of `tokenizer_config.json` the text side uses.
#[derive(Debug, Clone, Default)]
pub struct TokenizerConfig {
    /// transformers' `tokenizer.special_tokens_map`: the named special tokens (bos, eos, unk, sep, pad, cls,
    /// mask, in that order, when set) followed by the model-specific ones (every other `*_token` key with a
    /// string / AddedToken value, e.g. `image_token`, `end_of_utterance_token`, and the entries of a dict-valued
    /// `extra_special_tokens`). These are the variables transformers passes to the chat template.
    pub special_tokens_map: Vec<(String, String)>,
    /// `extra_special_tokens` / `additional_special_tokens` given as a list.
    pub extra_special_tokens: Vec<String>,
    /// `add_bos_token` / `add_eos_token` when present in the file.
    pub add_bos_token: Option<bool>,
    pub add_eos_token: Option<bool>,
    /// `clean_up_tokenization_spaces` (transformers 5 default: false).
    pub clean_up_tokenization_spaces: bool,
    /// `chat_template` when present (a string, or the template named "default" of a list).
    pub chat_template: Option<String>,
}

impl TokenizerConfig {
    /// Reads `tokenizer_config.json`; a missing file gives the empty config (transformers loads without it).
    pub fn from_file_or_default(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Ok(TokenizerConfig::default());
        }
        let json = read_json(path)?;
        Self::from_json(&json, path)
    }

    pub(crate) fn from_json(json: &Json, path: &Path) -> Result<Self> {
        let obj = json
            .as_object()
            .ok_or_else(|| TextError::malformed(path, "top level is not a JSON object"))?;
        let mut cfg = TokenizerConfig::default();
        for name in NAMED_SPECIAL_TOKENS {
            if let Some(v) = obj.get(name) {
                match token_content(v) {
                    Some(s) => cfg.special_tokens_map.push((name.to_string(), s)),
                    None if v.is_null() => {}
                    None => {
                        return Err(TextError::malformed(
                            path,
                            format!("`{name}` is neither a string nor an AddedToken object"),
                        ));
                    }
                }
            }
        }
        let mut model_specific: Vec<(String, String)> = Vec::new();
        for (key, v) in obj {
            if key.ends_with("_token")
                && !NAMED_SPECIAL_TOKENS.contains(&key.as_str())
                && let Some(s) = token_content(v)
            {
                model_specific.push((key.clone(), s));
            }
        }
        let extra = obj
            .get("extra_special_tokens")
            .or_else(|| obj.get("additional_special_tokens"));
        match extra {
            Some(Json::Array(items)) => {
                for item in items {
                    let s = token_content(item).ok_or_else(|| {
                        TextError::malformed(path, "extra_special_tokens holds a non-token entry")
                    })?;
                    cfg.extra_special_tokens.push(s);
                }
            }
            Some(Json::Object(map)) => {
                for (k, v) in map {
                    let s = token_content(v).ok_or_else(|| {
                        TextError::malformed(path, "extra_special_tokens holds a non-token entry")
                    })?;
                    model_specific.retain(|(name, _)| name != k);
                    model_specific.push((k.clone(), s));
                }
            }
            Some(Json::Null) | None => {}
            Some(_) => {
                return Err(TextError::malformed(
                    path,
                    "extra_special_tokens is neither a list nor an object",
                ));
            }
        }
        cfg.special_tokens_map.extend(model_specific);
        cfg.add_bos_token = obj.get("add_bos_token").and_then(Json::as_bool);
        cfg.add_eos_token = obj.get("add_eos_token").and_then(Json::as_bool);
        cfg.clean_up_tokenization_spaces = obj
            .get("clean_up_tokenization_spaces")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        cfg.chat_template = match obj.get("chat_template") {
            None | Some(Json::Null) => None,
            Some(v) => Some(template_from_json(v).map_err(|m| TextError::malformed(path, m))?),
        };
        Ok(cfg)
    }

    /// A special token by its name in `special_tokens_map` (`"eos_token"`, `"image_token"`, ...).
    pub fn special_token(&self, name: &str) -> Option<&str> {
        self.special_tokens_map
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A token given as a string or as a serialized `AddedToken` (`{"content": ..., ...}`).
fn token_content(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Object(m) => m.get("content").and_then(Json::as_str).map(str::to_string),
        _ => None,
    }
}

/// A `chat_template` value: a string, or a list of `{name, template}` from which "default" is taken.
pub(crate) fn template_from_json(v: &Json) -> std::result::Result<String, String> {
    match v {
        Json::String(s) => Ok(s.clone()),
        Json::Array(items) => {
            for item in items {
                let name = item.get("name").and_then(Json::as_str);
                let template = item.get("template").and_then(Json::as_str);
                match (name, template) {
                    (Some("default"), Some(t)) => return Ok(t.to_string()),
                    (Some(_), Some(_)) => {}
                    _ => return Err("chat_template list entries need `name` and `template`".into()),
                }
            }
            Err("chat_template list has no template named \"default\"".into())
        }
        _ => Err("chat_template is neither a string nor a list of {name, template}".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_special_tokens_in_transformers_order() {
        let json: Json = serde_json::from_str(
            r#"{"pad_token": "<pad>", "bos_token": {"content": "<s>", "__type": "AddedToken"},
                "eos_token": "</s>", "image_token": "<image>", "add_bos_token": false,
                "sep_token": null, "extra_special_tokens": ["<a>", "<b>"]}"#,
        )
        .unwrap();
        let cfg = TokenizerConfig::from_json(&json, Path::new("x")).unwrap();
        let names: Vec<_> = cfg
            .special_tokens_map
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            names,
            ["bos_token", "eos_token", "pad_token", "image_token"]
        );
        assert_eq!(cfg.special_token("bos_token"), Some("<s>"));
        assert_eq!(cfg.extra_special_tokens, ["<a>", "<b>"]);
        assert_eq!(cfg.add_bos_token, Some(false));
        assert_eq!(cfg.add_eos_token, None);
    }

    #[test]
    fn template_list_takes_default() {
        let json: Json = serde_json::from_str(
            r#"[{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]"#,
        )
        .unwrap();
        assert_eq!(template_from_json(&json).unwrap(), "D");
        let bad: Json = serde_json::from_str(r#"[{"name": "tool_use", "template": "T"}]"#).unwrap();
        assert!(template_from_json(&bad).is_err());
    }

    #[test]
    fn malformed_top_level() {
        let json: Json = serde_json::from_str("[1]").unwrap();
        let err = TokenizerConfig::from_json(&json, Path::new("x")).unwrap_err();
        assert_eq!(err.code(), "malformed_file");
    }
}
