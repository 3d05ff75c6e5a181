//! Property tests for `StreamDecoder`: the concatenation of all pieces equals `decode(all_ids)`, and nothing is
//! held back unless the bytes so far end inside an incomplete UTF-8 character.

mod common;

use std::collections::HashMap;

use common::fixture_dir;
use smolvlm_text::{StreamDecoder, Tokenizer};

/// Fixed-seed 64-bit LCG (Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// GPT-2's `bytes_to_unicode`: byte -> printable char.
fn byte_chars() -> Vec<char> {
    let direct = |b: u32| {
        (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b)
    };
    let mut n = 0;
    (0u32..256)
        .map(|b| {
            if direct(b) {
                char::from_u32(b).unwrap()
            } else {
                n += 1;
                char::from_u32(255 + n).unwrap()
            }
        })
        .collect()
}

struct Oracle {
    char_to_byte: HashMap<char, u8>,
    /// Token of each byte (the vocabulary lacks a few bytes, e.g. 0xC0, 0xFF).
    byte_token: Vec<Option<u32>>,
    /// Bytes that have a token.
    bytes_with_token: Vec<u8>,
}

impl Oracle {
    fn new(tok: &Tokenizer) -> Self {
        let chars = byte_chars();
        let char_to_byte = chars
            .iter()
            .enumerate()
            .map(|(b, &c)| (c, b as u8))
            .collect();
        let byte_token: Vec<Option<u32>> =
            chars.iter().map(|c| tok.token_id(&c.to_string())).collect();
        let bytes_with_token = (0..=255u8)
            .filter(|&b| byte_token[b as usize].is_some())
            .collect();
        Oracle {
            char_to_byte,
            byte_token,
            bytes_with_token,
        }
    }

    fn byte(&self, b: u8) -> u32 {
        self.byte_token[b as usize].expect("byte has a token")
    }

    /// The raw bytes `decode` concatenates for `ids`.
    fn bytes(&self, tok: &Tokenizer, ids: &[u32], skip: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for &id in ids {
            let Some(t) = tok.id_to_token(id) else {
                continue;
            };
            if skip && tok.is_special_id(id) {
                continue;
            }
            let mapped: Option<Vec<u8>> = t
                .chars()
                .map(|c| self.char_to_byte.get(&c).copied())
                .collect();
            out.extend(mapped.unwrap_or_else(|| t.as_bytes().to_vec()));
        }
        out
    }
}

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

/// Streams `ids`, checking after every push that the text so far is `decode(prefix)` whenever the prefix's
/// bytes do not end inside a character, and at the end that the whole equals `decode(ids)`.
fn check(tok: &Tokenizer, oracle: &Oracle, ids: &[u32], skip: bool) {
    let mut dec = StreamDecoder::new(tok, skip);
    let mut text = String::new();
    for (k, &id) in ids.iter().enumerate() {
        if let Some(piece) = dec.push(id).unwrap() {
            assert!(!piece.is_empty());
            text.push_str(&piece);
        }
        let prefix = &ids[..=k];
        if !ends_incomplete(&oracle.bytes(tok, prefix, skip)) {
            assert_eq!(
                text,
                tok.decode(prefix, skip).unwrap(),
                "held back after {prefix:?}"
            );
            assert!(!dec.has_pending(), "pending after {prefix:?}");
        }
    }
    text.extend(dec.finish().unwrap());
    assert_eq!(
        text,
        tok.decode(ids, skip).unwrap(),
        "ids {ids:?} skip={skip}"
    );
}

const SAMPLES: &[&str] = &[
    "Hello, world! The quick brown fox.",
    "日本語のテキストと中文混合 text, 한국어도.",
    "emoji 🌊🐱‍👤👍🏽🇫🇷 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math 𝑥²",
    "Ünïcödé àccents — “quotes” … ½ ∑ ∫ ‰",
    "<|im_start|>User:<image>What?<end_of_utterance>\nAssistant: fine.",
    "  spaces\n\n\ttabs ,;:!? punctuation...",
];

#[test]
fn real_text_streams_exactly() {
    let tok = Tokenizer::from_dir(&fixture_dir()).unwrap();
    let oracle = Oracle::new(&tok);
    for s in SAMPLES {
        let ids = tok.encode(s).unwrap();
        for skip in [false, true] {
            check(&tok, &oracle, &ids, skip);
        }
        // Real text: every piece arrives no later than the token that completes it.
        let mut dec = StreamDecoder::new(&tok, false);
        let mut text = String::new();
        for &id in &ids {
            text.extend(dec.push(id).unwrap());
        }
        assert_eq!(text, *s);
        assert!(!dec.has_pending());
    }
}

#[test]
fn multibyte_chars_split_over_byte_tokens() {
    let tok = Tokenizer::from_dir(&fixture_dir()).unwrap();
    let oracle = Oracle::new(&tok);
    // "a中🌊." spelled byte by byte: held back only inside 中 and 🌊.
    let text = "a中🌊.";
    let ids: Vec<u32> = text.bytes().map(|b| oracle.byte(b)).collect();
    let mut dec = StreamDecoder::new(&tok, false);
    let pieces: Vec<Option<String>> = ids.iter().map(|&id| dec.push(id).unwrap()).collect();
    let expect: Vec<Option<&str>> = vec![
        Some("a"),
        None,
        None,
        Some("中"),
        None,
        None,
        None,
        Some("🌊"),
        Some("."),
    ];
    assert_eq!(
        pieces.iter().map(|p| p.as_deref()).collect::<Vec<_>>(),
        expect
    );
    assert_eq!(dec.finish().unwrap(), None);

    // An invalid byte is final: emitted at once as U+FFFD, as decode shows it.
    let mut dec = StreamDecoder::new(&tok, false);
    assert_eq!(dec.push(oracle.byte(0xE4)).unwrap(), None);
    assert_eq!(
        dec.push(oracle.byte(b' ')).unwrap().as_deref(),
        Some("\u{FFFD} ")
    );
    // A dangling lead byte is flushed by finish.
    assert_eq!(dec.push(oracle.byte(0xF0)).unwrap(), None);
    assert_eq!(dec.finish().unwrap().as_deref(), Some("\u{FFFD}"));
}

#[test]
fn random_ids_property() {
    let tok = Tokenizer::from_dir(&fixture_dir()).unwrap();
    let oracle = Oracle::new(&tok);
    let vocab = tok.vocab_size();
    let sample_ids: Vec<Vec<u32>> = SAMPLES.iter().map(|s| tok.encode(s).unwrap()).collect();
    let mut rng = Lcg(0x5eed_1234);
    for round in 0..400 {
        let len = 1 + rng.below(40);
        let mut ids = Vec::with_capacity(len);
        for _ in 0..len {
            let id = match rng.below(6) {
                // Any id, special tokens included, sometimes past the vocabulary (skipped by decode).
                0 => rng.below(vocab + 8) as u32,
                // Random single-byte tokens: broken and partial UTF-8.
                1 | 2 => {
                    let bytes = &oracle.bytes_with_token;
                    oracle.byte(bytes[rng.below(bytes.len())])
                }
                // Continuation / lead bytes, to build valid multi-byte chars by chance.
                3 => {
                    let high: Vec<u8> = oracle
                        .bytes_with_token
                        .iter()
                        .copied()
                        .filter(|&b| b >= 0x80)
                        .collect();
                    oracle.byte(high[rng.below(high.len())])
                }
                // Tokens of real multilingual text, emoji included.
                _ => {
                    let s = &sample_ids[rng.below(sample_ids.len())];
                    s[rng.below(s.len())]
                }
            };
            ids.push(id);
        }
        check(&tok, &oracle, &ids, round % 2 == 0);
    }
}

#[test]
fn valid_multibyte_text_spelled_in_bytes_streams_char_by_char() {
    let tok = Tokenizer::from_dir(&fixture_dir()).unwrap();
    let oracle = Oracle::new(&tok);
    let mut rng = Lcg(42);
    let alphabet: Vec<char> = "aé中🌊ß—😀 ,".chars().collect();
    for _ in 0..100 {
        let s: String = (0..1 + rng.below(12))
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        let ids: Vec<u32> = s.bytes().map(|b| oracle.byte(b)).collect();
        check(&tok, &oracle, &ids, false);
    }
}
