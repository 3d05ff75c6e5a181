//! Markup a person typed is text. A message may hold the literal text of a markup token — a
//! question about `<image>`, an answer explaining HTML, a pasted `<end_of_utterance>` — and the
//! tokenizer, which matches added tokens anywhere, would make it the token itself: a typed
//! `<image>` takes an image's place (that turn and every later one then fail with an image count
//! mismatch), a typed `<end_of_utterance>` ends the turn.
//!
//! transformers does the same unless asked (`split_special_tokens=True`, for the whole prompt,
//! which would also break the template's own markup). Here only what was typed is affected:
//! [`neutralize`] puts [`TEXT_MARK`] inside each markup token of a message's text before the
//! template sees it, and [`encode_marked`] tokenizes the prompt as `tokenizers` does, except that
//! a piece between two real added tokens that holds a mark loses its marks and is read as plain
//! text: `<image>` typed becomes `<`, `image`, `>`, exactly the tokens of that text were it not
//! in the vocabulary. A prompt without marks (every parity golden) takes the plain path.

use std::borrow::Cow;

use tokenizers::{Model, OffsetType, PreTokenizer};

/// What marks typed markup: U+FDD0, a noncharacter (Unicode keeps it for a program's internal
/// use, it is never text), so a mark is never confused with what a person wrote. [`encode_marked`]
/// drops every one, so one a message might hold is dropped too.
pub(crate) const TEXT_MARK: char = '\u{FDD0}';

/// Special added tokens and added tokens written `<...>`, longest first, so a token is never
/// broken as a shorter one it starts with.
pub(crate) fn markup_tokens(inner: &tokenizers::Tokenizer) -> Vec<String> {
    let added = inner.get_added_vocabulary();
    let mut markup: Vec<String> = inner
        .get_added_tokens_decoder()
        .into_values()
        .map(|t| t.content)
        .filter(|c| {
            c.chars().count() >= 2
                && (added.is_special_token(c) || (c.starts_with('<') && c.ends_with('>')))
        })
        .collect();
    markup.sort_by_key(|m| std::cmp::Reverse(m.len()));
    markup
}

/// `text` with [`TEXT_MARK`] after the first character of every `markup` token in it.
pub(crate) fn neutralize<'a>(markup: &[String], text: &'a str) -> Cow<'a, str> {
    if !markup.iter().any(|m| text.contains(m.as_str())) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match markup.iter().find(|m| rest.starts_with(m.as_str())) {
            Some(m) => {
                out.push(c);
                out.push(TEXT_MARK);
                out.push_str(&m[c.len_utf8()..]);
                rest = &rest[m.len()..];
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out.into()
}

/// `inner.encode(text, add_special_tokens)`'s ids, step for step as `tokenizers` computes them
/// (added tokens split out, normalizer, pre-tokenizer, model, post-processor), with the marks of
/// [`neutralize`] removed from the pieces between added tokens before they are pre-tokenized.
pub(crate) fn encode_marked(
    inner: &tokenizers::Tokenizer,
    text: &str,
    add_special_tokens: bool,
) -> tokenizers::Result<Vec<u32>> {
    let mut pieces = inner
        .get_added_vocabulary()
        .extract_and_normalize(inner.get_normalizer(), text);
    // Only pieces that are not added tokens are passed here.
    pieces.split(|_, mut piece| {
        if piece.get().contains(TEXT_MARK) {
            piece.filter(|c| c != TEXT_MARK);
        }
        Ok(std::iter::once(piece))
    })?;
    if let Some(pre_tokenizer) = inner.get_pre_tokenizer() {
        pre_tokenizer.pre_tokenize(&mut pieces)?;
    }
    inner
        .get_model()
        .tokenize_in_pretokenized(&mut pieces, None)?;
    let encoding = pieces.into_encoding(None, 0, OffsetType::Byte)?;
    let encoding = inner.post_process(encoding, None, add_special_tokens)?;
    Ok(encoding.get_ids().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The marked path is `tokenizers`' own for text it has nothing to do in: the goldens'
    /// expanded prompts (images, turns, special tokens) give transformers' ids through it too.
    #[test]
    fn without_marks_it_is_the_tokenizers_encoding() {
        let fixtures =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        for name in ["tiny-smolvlm", "tiny-2b-style", "tiny-smolvlm2-style"] {
            let dir = fixtures.join(name);
            let tok = crate::Tokenizer::from_dir(&dir).unwrap();
            let text = std::fs::read_to_string(dir.join("golden.json")).unwrap();
            let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
            for case in golden["cases"].as_array().unwrap() {
                let prompt = case["expanded_prompt"].as_str().unwrap();
                let want: Vec<u32> = case["input_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as u32)
                    .collect();
                for add_special_tokens in [true, false] {
                    let got = encode_marked(tok.inner(), prompt, add_special_tokens).unwrap();
                    let plain = tok.inner().encode(prompt, add_special_tokens).unwrap();
                    assert_eq!(got, plain.get_ids(), "{name} case {}", case["id"]);
                }
                assert_eq!(encode_marked(tok.inner(), prompt, true).unwrap(), want);
            }
        }
    }
}
