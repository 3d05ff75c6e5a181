//! `tokenizer_gguf`: the byte-level BPE tokenizer the loader builds from a GGUF's
//! `tokenizer.ggml.*` metadata, with the vocabulary, merges and token types fuzzed directly
//! (a fuzzer mutating whole GGUF files rarely keeps those arrays well-formed), then text encoded
//! and decoded with it.
//!
//! The input is text, sections split by lines holding only `%%`:
//!
//! ```text
//! PRE [BOS_ID [EOS_ID]]        tokenizer.ggml.pre and the special token ids
//! %%
//! T TOKEN                      one token a line: T a digit, its llama.cpp token type
//! %%
//! A B                          one merge a line
//! %%
//! text to encode (the rest)
//! ```

use smolvlm::gguf::{self, GgufFile};

use crate::GgufWriter;
use crate::scratch::scratch;

pub fn tokenizer_gguf(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut sections = text.splitn(4, "\n%%\n");
    let header = sections.next().unwrap_or("");
    let tokens = sections.next().unwrap_or("");
    let merges = sections.next().unwrap_or("");
    let input = sections.next().unwrap_or("");

    let mut w = GgufWriter::default();
    w.string("general.architecture", b"llama")
        .string("tokenizer.ggml.model", b"gpt2");
    let mut fields = header.split(' ');
    if let Some(pre) = fields.next().filter(|p| !p.is_empty()) {
        w.string("tokenizer.ggml.pre", pre.as_bytes());
    }
    for key in ["tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"] {
        if let Some(id) = fields.next().and_then(|f| f.trim().parse().ok()) {
            w.u32(key, id);
        }
    }
    let (types, tokens): (Vec<i32>, Vec<&str>) = tokens
        .lines()
        .map(|line| {
            let ty = line
                .bytes()
                .next()
                .filter(u8::is_ascii_digit)
                .map_or(1, |b| b - b'0');
            (i32::from(ty), line.get(2..).unwrap_or(""))
        })
        .unzip();
    let merges: Vec<&str> = merges.lines().collect();
    w.strings("tokenizer.ggml.tokens", &tokens)
        .i32s("tokenizer.ggml.token_type", &types)
        .strings("tokenizer.ggml.merges", &merges);

    let scratch = scratch();
    let path = scratch.write("tokenizer.gguf", &w.finish());
    let Ok(file) = GgufFile::open(&path) else {
        return;
    };
    let Ok(tokenizer) = gguf::tokenizer(&file) else {
        return;
    };
    let _ = tokenizer.neutralize_markup(input);
    let Ok(ids) = tokenizer.encode(input) else {
        return;
    };
    let _ = tokenizer.decode(&ids, false);
    let _ = tokenizer.decode(&ids, true);
    let mut stream = smolvlm_text::StreamDecoder::new(&tokenizer, true);
    for &id in &ids {
        let _ = stream.push(id);
    }
    let _ = stream.finish();
}
