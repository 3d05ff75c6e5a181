//! The tokenizer, set up the way transformers 5 sets up `TokenizersBackend` for SmolVLM, and called the way
//! `Idefics3Processor.__call__` calls it.

use std::path::{Path, PathBuf};

use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, DecoderWrapper, ModelWrapper, PostProcessorWrapper};

use crate::config::TokenizerConfig;
use crate::error::{Result, TextError, read_text};
use crate::expand::{
    END_OF_UTTERANCE_TOKEN, FAKE_TOKEN_AROUND_IMAGE, GLOBAL_IMAGE_TOKEN, IMAGE_TOKEN,
};
use crate::markup;

pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    config: TokenizerConfig,
    image_token: String,
    fake_image_token: String,
    global_image_token: String,
    clean_up_tokenization_spaces: bool,
    byte_level_decoder: bool,
    base_vocab: usize,
    /// The vocabulary's markup tokens, longest first ([`Tokenizer::neutralize_markup`]).
    markup: Vec<String>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("special_tokens_map", &self.config.special_tokens_map)
            .finish()
    }
}

impl Tokenizer {
    /// Loads `tokenizer.json` and (when present) `tokenizer_config.json` from a model folder.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        Self::from_file(&dir.join("tokenizer.json"))
    }

    /// Loads a `tokenizer.json`; `tokenizer_config.json` is looked for next to it.
    pub fn from_file(tokenizer_json: &Path) -> Result<Self> {
        let config_path = tokenizer_json
            .parent()
            .map(|p| p.join("tokenizer_config.json"))
            .unwrap_or_else(|| PathBuf::from("tokenizer_config.json"));
        let config = TokenizerConfig::from_file_or_default(&config_path)?;
        let text = read_text(tokenizer_json)?;
        Self::from_json_str(&text, config, tokenizer_json)
    }

    /// Builds from the text of a `tokenizer.json` and an already parsed config.
    pub fn from_parts(tokenizer_json: &str, config: TokenizerConfig) -> Result<Self> {
        Self::from_json_str(tokenizer_json, config, Path::new("tokenizer.json"))
    }

    fn from_json_str(text: &str, config: TokenizerConfig, path: &Path) -> Result<Self> {
        // `tokenizers` 0.23 panics on some malformed files instead of erroring (a JSON syntax
        // error inside `decoder`: `.expect("Helper")`; a `Precompiled` normalizer's bad charsmap:
        // `.expect("Precompiled")`). The file comes with a model, so that is its error, not the
        // process's end (found by the `config_json` fuzz target).
        let mut inner: tokenizers::Tokenizer = std::panic::catch_unwind(|| text.parse())
            .map_err(|_| TextError::malformed(path, "the tokenizer library failed on this file"))?
            .map_err(|e: tokenizers::Error| TextError::malformed(path, e.to_string()))?;

        // transformers: the `tokenizers` object's own truncation/padding are not applied by the processor
        // (it calls the tokenizer with truncation/padding off), so turn them off here.
        inner
            .with_truncation(None)
            .map_err(|e| TextError::Tokenizer(e.to_string()))?;
        inner.with_padding(None);

        // `TokenizersBackend.__init__`/`_post_init`: every special token of the config (named, model-specific
        // and extra) is registered as a special added token if the backend does not know it yet.
        // `Idefics3Processor.__init__` then adds `<fake_token_around_image>`, `<image>`, `<end_of_utterance>`.
        let mut wanted: Vec<String> = config
            .special_tokens_map
            .iter()
            .map(|(_, v)| v.clone())
            .chain(config.extra_special_tokens.iter().cloned())
            .collect();
        for t in [FAKE_TOKEN_AROUND_IMAGE, IMAGE_TOKEN, END_OF_UTTERANCE_TOKEN] {
            wanted.push(t.to_string());
        }
        let vocab = inner.get_vocab(true);
        let base_vocab = vocab.values().map(|&id| id as usize + 1).max().unwrap_or(0);
        let mut to_add: Vec<AddedToken> = Vec::new();
        for t in wanted {
            let known_special = inner.get_added_vocabulary().is_special_token(&t);
            if !known_special && !vocab.contains_key(&t) && !to_add.iter().any(|a| a.content == t) {
                to_add.push(AddedToken::from(t, true).normalized(false));
            }
        }
        if !to_add.is_empty() {
            inner
                .add_special_tokens(to_add)
                .map_err(|e| TextError::Tokenizer(e.to_string()))?;
        }

        // `update_post_processor` runs when the config sets add_bos_token/add_eos_token explicitly or the
        // tokenizer.json has no post-processor: it becomes `[bos] $A [eos]` per those flags.
        let explicit = config.add_bos_token.is_some() || config.add_eos_token.is_some();
        if explicit || inner.get_post_processor().is_none() {
            let bos = config
                .special_token("bos_token")
                .and_then(|t| inner.token_to_id(t).map(|id| (t.to_string(), id)));
            let eos = config
                .special_token("eos_token")
                .and_then(|t| inner.token_to_id(t).map(|id| (t.to_string(), id)));
            let add_bos = config.add_bos_token.unwrap_or(false) && bos.is_some();
            let add_eos = config.add_eos_token.unwrap_or(false) && eos.is_some();
            let mut single = String::new();
            let mut special = Vec::new();
            if add_bos {
                let (b, id) = bos.clone().expect("checked above");
                single.push_str(&format!("{b}:0 "));
                special.push((b, id));
            }
            single.push_str("$A:0");
            if add_eos {
                let (e, id) = eos.clone().expect("checked above");
                single.push_str(&format!(" {e}:0"));
                special.push((e, id));
            }
            let mut pair = single.clone();
            if add_bos {
                pair.push_str(&format!(" {}:1", bos.as_ref().expect("checked").0));
            }
            pair.push_str(" $B:1");
            if add_eos {
                pair.push_str(&format!(" {}:1", eos.as_ref().expect("checked").0));
            }
            let processor = TemplateProcessing::builder()
                .try_single(single.as_str())
                .and_then(|b| b.try_pair(pair.as_str()))
                .map_err(|e| TextError::Tokenizer(e.to_string()))?
                .special_tokens(special)
                .build()
                .map_err(|e| TextError::Tokenizer(e.to_string()))?;
            inner.with_post_processor(Some(PostProcessorWrapper::Template(processor)));
        }

        let get = |name: &str, default: &str| {
            config
                .special_token(name)
                .map(str::to_string)
                .unwrap_or_else(|| default.to_string())
        };
        let image_token = get("image_token", IMAGE_TOKEN);
        let fake_image_token = get("fake_image_token", FAKE_TOKEN_AROUND_IMAGE);
        let global_image_token = get("global_image_token", GLOBAL_IMAGE_TOKEN);

        // transformers 5 ignores `clean_up_tokenization_spaces` for BPE models (it would corrupt the text).
        let is_bpe = matches!(inner.get_model(), ModelWrapper::BPE(_));
        let clean_up_tokenization_spaces = config.clean_up_tokenization_spaces && !is_bpe;
        let byte_level_decoder = matches!(inner.get_decoder(), Some(DecoderWrapper::ByteLevel(_)));

        let markup = markup::markup_tokens(&inner);
        Ok(Tokenizer {
            base_vocab,
            markup,
            inner,
            config,
            image_token,
            fake_image_token,
            global_image_token,
            clean_up_tokenization_spaces,
            byte_level_decoder,
        })
    }

    /// Token ids of `text` as `processor(text=...)` computes them: `tokenizer(text)` with
    /// `add_special_tokens=True` (for SmolVLM this adds nothing: the post-processor only handles offsets and the
    /// template already starts with `<|im_start|>`), special tokens in the text matched as single tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.encode_with(text, true)
    }

    /// [`Tokenizer::encode`] with an explicit `add_special_tokens`. Markup that
    /// [`Self::neutralize_markup`] marked is read as plain text.
    pub fn encode_with(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        if text.contains(markup::TEXT_MARK) {
            return markup::encode_marked(&self.inner, text, add_special_tokens)
                .map_err(|e| TextError::Tokenizer(e.to_string()));
        }
        let enc = self
            .inner
            .encode(text, add_special_tokens)
            .map_err(|e| TextError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// `tokenizer.decode(ids, skip_special_tokens=...)` (ids out of range are skipped, as in transformers).
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        let text = self.decode_raw(ids, skip_special_tokens)?;
        if self.clean_up_tokenization_spaces {
            Ok(clean_up_tokenization(&text))
        } else {
            Ok(text)
        }
    }

    /// Decoding without transformers' `clean_up_tokenization` step (what streaming uses).
    pub(crate) fn decode_raw(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| TextError::Tokenizer(e.to_string()))
    }

    /// Whether `decode` applies transformers' `clean_up_tokenization` (never for BPE models such as SmolVLM's).
    pub fn cleans_up_tokenization_spaces(&self) -> bool {
        self.clean_up_tokenization_spaces
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// `text` with every markup token of the vocabulary in it (special added tokens, and added
    /// tokens written `<...>`: `<image>`, `<end_of_utterance>`, `<|im_start|>`, `<row_1_col_1>`,
    /// …) marked as typed, for a message's text before the template renders it: [`Self::encode`]
    /// then reads each as the plain text it is, not as the token (see `crate::markup`). Text
    /// without markup comes back as it is.
    pub fn neutralize_markup<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        markup::neutralize(&self.markup, text)
    }

    /// Whether `id` is a special added token (the ones `skip_special_tokens` drops).
    pub fn is_special_id(&self, id: u32) -> bool {
        self.inner
            .id_to_token(id)
            .is_some_and(|t| self.inner.get_added_vocabulary().is_special_token(&t))
    }

    /// The ids that end a reply: the config's `eos_token`, then `<end_of_utterance>` when the vocabulary has it
    /// (deduplicated, in that order).
    pub fn eos_token_ids(&self) -> Vec<u32> {
        let mut ids = Vec::new();
        let candidates = [
            self.config.special_token("eos_token"),
            Some(END_OF_UTTERANCE_TOKEN),
        ];
        for t in candidates.into_iter().flatten() {
            if let Some(id) = self.token_id(t)
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
        ids
    }

    /// `len(tokenizer)` in transformers: base vocabulary plus added tokens (one past the largest id).
    pub fn vocab_size(&self) -> usize {
        let with_added = self.inner.get_vocab_size(true);
        let max_added = self
            .inner
            .get_added_tokens_decoder()
            .keys()
            .map(|&id| id as usize + 1)
            .max()
            .unwrap_or(0);
        with_added.max(max_added)
    }

    /// The vocabulary the tokenizer file itself defines, without the tokens the processor adds.
    pub fn base_vocab_size(&self) -> usize {
        self.base_vocab
    }

    /// The string written for each image embedding (`<image>`).
    pub fn image_token(&self) -> &str {
        &self.image_token
    }
    pub fn image_token_id(&self) -> Option<u32> {
        self.token_id(&self.image_token)
    }
    pub fn fake_image_token(&self) -> &str {
        &self.fake_image_token
    }
    pub fn fake_token_around_image_id(&self) -> Option<u32> {
        self.token_id(&self.fake_image_token)
    }
    pub fn global_image_token(&self) -> &str {
        &self.global_image_token
    }
    pub fn global_image_token_id(&self) -> Option<u32> {
        self.token_id(&self.global_image_token)
    }
    pub fn end_of_utterance_id(&self) -> Option<u32> {
        self.token_id(END_OF_UTTERANCE_TOKEN)
    }
    /// Id of `<row_{row}_col_{col}>` (1-based, as in the prompt).
    pub fn row_col_token_id(&self, row: usize, col: usize) -> Option<u32> {
        self.token_id(&format!("<row_{row}_col_{col}>"))
    }

    /// The config's named special token (`"bos_token"`, `"eos_token"`, `"pad_token"`, ...).
    pub fn special_token(&self, name: &str) -> Option<&str> {
        self.config.special_token(name)
    }

    /// `tokenizer.special_tokens_map` (what transformers passes to chat templates).
    pub fn special_tokens_map(&self) -> &[(String, String)] {
        &self.config.special_tokens_map
    }

    pub fn config(&self) -> &TokenizerConfig {
        &self.config
    }

    /// The underlying `tokenizers` object.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    pub(crate) fn has_byte_level_decoder(&self) -> bool {
        self.byte_level_decoder
    }

    /// The raw bytes a token contributes in a byte-level decode (`ByteLevel.decode_chain`), `None` when the
    /// id is unknown or skipped.
    pub(crate) fn byte_level_bytes(&self, id: u32, skip_special_tokens: bool) -> Option<Vec<u8>> {
        let token = self.inner.id_to_token(id)?;
        if skip_special_tokens && self.inner.get_added_vocabulary().is_special_token(&token) {
            return None;
        }
        Some(byte_level_token_bytes(&token))
    }
}

/// transformers' `PreTrainedTokenizerBase.clean_up_tokenization`.
pub fn clean_up_tokenization(text: &str) -> String {
    text.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}

/// GPT-2's byte <-> printable char table (`bytes_to_unicode`), char -> byte direction.
fn char_to_byte(c: char) -> Option<u8> {
    let cp = c as u32;
    let direct = |b: u32| {
        (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b)
    };
    if cp < 256 && direct(cp) {
        return Some(cp as u8);
    }
    if !(256..512).contains(&cp) {
        return None;
    }
    // The remaining bytes (in increasing order) map to 256, 257, ...
    let n = cp - 256;
    let mut k = 0;
    for b in 0u32..256 {
        if !direct(b) {
            if k == n {
                return Some(b as u8);
            }
            k += 1;
        }
    }
    None
}

/// As `ByteLevel.decode_chain` for one token: every char mapped through the byte table, or, if any char has no
/// entry, the token's UTF-8 bytes unchanged.
pub(crate) fn byte_level_token_bytes(token: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(token.len());
    for c in token.chars() {
        match char_to_byte(c) {
            Some(b) => out.push(b),
            None => return token.as_bytes().to_vec(),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tokenizer_json_tokenizers_panics_on_is_an_error() {
        for json in [
            r#"{"version":"1.0","decoder":{"type":"ByteLevel",]}"#,
            r#"{"normalizer":{"type":"Precompiled","precompiled_charsmap":"!!"}}"#,
        ] {
            let err = Tokenizer::from_parts(json, TokenizerConfig::default()).unwrap_err();
            assert!(
                matches!(err, TextError::MalformedFile { .. }),
                "{json}: {err}"
            );
        }
    }

    #[test]
    fn byte_table_roundtrip() {
        // 'Ġ' is the space byte, 'Ċ' the newline byte, 'Ã' (U+00C3) is 0xC3.
        assert_eq!(char_to_byte('Ġ'), Some(b' '));
        assert_eq!(char_to_byte('Ċ'), Some(b'\n'));
        assert_eq!(char_to_byte('Ã'), Some(0xC3));
        assert_eq!(char_to_byte('a'), Some(b'a'));
        assert_eq!(char_to_byte('中'), None);
        let mut seen = std::collections::HashSet::new();
        for cp in 0u32..600 {
            if let Some(b) = char::from_u32(cp).and_then(char_to_byte) {
                assert!(seen.insert(b), "byte {b} mapped twice");
            }
        }
        assert_eq!(seen.len(), 256);
        assert_eq!(byte_level_token_bytes("<image>"), b"<image>");
        assert_eq!(byte_level_token_bytes("中"), "中".as_bytes());
    }

    #[test]
    fn cleanup_matches_transformers() {
        assert_eq!(clean_up_tokenization("a , b . I 'm"), "a, b. I'm");
    }

    #[test]
    fn malformed_tokenizer_json() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tokenizer.json"), "{not json").unwrap();
        let err = Tokenizer::from_dir(dir.path()).unwrap_err();
        assert_eq!(err.code(), "malformed_file");
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/tiny-smolvlm/tokenizer.json"),
            dir.path().join("tokenizer.json"),
        )
        .unwrap();
        // Without tokenizer_config.json the tokenizer still loads (as in transformers).
        let tok = Tokenizer::from_dir(dir.path()).unwrap();
        assert_eq!(tok.image_token_id(), Some(49190));
        assert_eq!(tok.eos_token_ids(), vec![49279]);
        std::fs::write(dir.path().join("tokenizer_config.json"), "[").unwrap();
        assert_eq!(
            Tokenizer::from_dir(dir.path()).unwrap_err().code(),
            "malformed_file"
        );
        std::fs::write(
            dir.path().join("tokenizer_config.json"),
            r#"{"eos_token": 5}"#,
        )
        .unwrap();
        assert_eq!(
            Tokenizer::from_dir(dir.path()).unwrap_err().code(),
            "malformed_file"
        );
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            Tokenizer::from_dir(empty.path()).unwrap_err().code(),
            "missing_file"
        );
    }
}
