//! Streaming detokenization: text pieces as soon as they are valid UTF-8, whose concatenation equals
//! `decode(all_ids)`.
//!
//! Byte-level BPE tokens (SmolVLM's) can end in the middle of a multi-byte character. The decoder keeps the
//! ids since the last emitted boundary and emits as soon as their bytes do not end inside an incomplete
//! UTF-8 sequence; an invalid byte (one no continuation can repair) is emitted at once as U+FFFD, exactly
//! as `decode` renders it. For byte-level decoders this is decided on the raw bytes; for any other decoder the
//! text-generation-inference rule is used (decode the window from a prefix offset, hold back while the new
//! text ends in U+FFFD). Each push decodes only the ids since the previous emission.

use crate::error::Result;
use crate::tokenizer::Tokenizer;

pub struct StreamDecoder<'a> {
    tokenizer: &'a Tokenizer,
    skip_special_tokens: bool,
    byte_level: bool,
    /// Ids from `prefix_offset` on (TGI-style window); for the byte-level path only ids not yet emitted.
    window: Vec<u32>,
    /// Index in `window` of the first id whose text has not been emitted.
    read_offset: usize,
    /// Byte-level path: raw bytes of `window[read_offset..]`.
    pending_bytes: Vec<u8>,
}

impl<'a> StreamDecoder<'a> {
    pub fn new(tokenizer: &'a Tokenizer, skip_special_tokens: bool) -> Self {
        let byte_level =
            tokenizer.has_byte_level_decoder() && !tokenizer.cleans_up_tokenization_spaces();
        StreamDecoder {
            tokenizer,
            skip_special_tokens,
            byte_level,
            window: Vec::new(),
            read_offset: 0,
            pending_bytes: Vec::new(),
        }
    }

    /// The generic (TGI) path even for byte-level tokenizers; for tests.
    #[cfg(test)]
    fn new_generic(tokenizer: &'a Tokenizer, skip_special_tokens: bool) -> Self {
        let mut d = Self::new(tokenizer, skip_special_tokens);
        d.byte_level = false;
        d
    }

    /// Adds one generated id; returns the text that became complete, if any.
    pub fn push(&mut self, id: u32) -> Result<Option<String>> {
        if self.byte_level {
            return Ok(self.push_byte_level(id));
        }
        self.window.push(id);
        let prefix_text = self
            .tokenizer
            .decode_raw(&self.window[..self.read_offset], self.skip_special_tokens)?;
        let new_text = self
            .tokenizer
            .decode_raw(&self.window, self.skip_special_tokens)?;
        if new_text.len() > prefix_text.len()
            && !new_text.ends_with('\u{FFFD}')
            && new_text.starts_with(&prefix_text)
        {
            let piece = new_text[prefix_text.len()..].to_string();
            // The ids just emitted become the context (prefix) for the next decode.
            self.window.drain(..self.read_offset);
            self.read_offset = self.window.len();
            return Ok(Some(piece));
        }
        Ok(None)
    }

    fn push_byte_level(&mut self, id: u32) -> Option<String> {
        if let Some(bytes) = self
            .tokenizer
            .byte_level_bytes(id, self.skip_special_tokens)
        {
            self.pending_bytes.extend_from_slice(&bytes);
        }
        if self.pending_bytes.is_empty() || ends_incomplete(&self.pending_bytes) {
            return None;
        }
        let piece = String::from_utf8_lossy(&self.pending_bytes).into_owned();
        self.pending_bytes.clear();
        Some(piece)
    }

    /// Flushes whatever is held back (an incomplete character becomes U+FFFD, as in `decode`).
    pub fn finish(&mut self) -> Result<Option<String>> {
        if self.byte_level {
            if self.pending_bytes.is_empty() {
                return Ok(None);
            }
            let piece = String::from_utf8_lossy(&self.pending_bytes).into_owned();
            self.pending_bytes.clear();
            return Ok(Some(piece));
        }
        let prefix_text = self
            .tokenizer
            .decode_raw(&self.window[..self.read_offset], self.skip_special_tokens)?;
        let new_text = self
            .tokenizer
            .decode_raw(&self.window, self.skip_special_tokens)?;
        self.window.clear();
        self.read_offset = 0;
        if new_text.len() > prefix_text.len() && new_text.starts_with(&prefix_text) {
            Ok(Some(new_text[prefix_text.len()..].to_string()))
        } else {
            Ok(None)
        }
    }

    /// Whether some ids have not produced text yet.
    pub fn has_pending(&self) -> bool {
        if self.byte_level {
            !self.pending_bytes.is_empty()
        } else {
            self.window.len() > self.read_offset
        }
    }
}

/// Whether `bytes` end inside a UTF-8 sequence that more bytes could still complete (as opposed to complete
/// characters or invalid bytes, which `from_utf8_lossy` already turns into U+FFFD for good).
fn ends_incomplete(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(_) => return false,
            Err(e) => match e.error_len() {
                None => return true,
                Some(len) => rest = &rest[e.valid_up_to() + len..],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_tail_detection() {
        assert!(!ends_incomplete(b"abc"));
        assert!(ends_incomplete(&[b'a', 0xE4, 0xB8]));
        assert!(ends_incomplete(&[0xF0, 0x9F]));
        assert!(!ends_incomplete(&[0xE4, b'a'])); // invalid, final
        assert!(!ends_incomplete(&[0xB8])); // stray continuation, final
        assert!(!ends_incomplete(&[0xF0, 0x80])); // invalid second byte, final
        assert!(ends_incomplete(&[0xB8, 0xE4])); // invalid then incomplete
        assert!(!ends_incomplete("中".as_bytes()));
    }

    fn fixture() -> Option<Tokenizer> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/tiny-smolvlm");
        dir.join("tokenizer.json")
            .exists()
            .then(|| Tokenizer::from_dir(&dir).unwrap())
    }

    #[test]
    fn generic_path_matches_decode() {
        let Some(tok) = fixture() else { return };
        let ids = tok.encode("Héllo 世界 🌍! <image> ok").unwrap();
        for skip in [false, true] {
            let mut d = StreamDecoder::new_generic(&tok, skip);
            let mut s = String::new();
            for &id in &ids {
                s.extend(d.push(id).unwrap());
            }
            s.extend(d.finish().unwrap());
            assert_eq!(s, tok.decode(&ids, skip).unwrap());
        }
    }
}
