//! llama.cpp GGUF pairs: a `llama` text model and a `clip` mmproj (`projector_type` idefics3).
//! Everything a model folder's JSON files give is read from their metadata here: the decoder and
//! vision hyper-parameters, the image processor settings, the byte-level BPE tokenizer
//! (`tokenizer.ggml.*`) and the chat template (`tokenizer.chat_template`).

mod file;

pub use file::{GgufFile, TensorEntry, supported_dtype};

use candle_core::quantized::gguf_file::Value;
use serde_json::{Value as Json, json};
use smolvlm_image::ProcessorConfig;
use smolvlm_text::{ChatTemplate, Tokenizer, TokenizerConfig};

use crate::config::{Activation, ModelConfig, RopeParameters, TextConfig, TokenIds, VisionConfig};
use crate::error::{Error, Result};

/// The vision side of an mmproj: tower config, pixel-shuffle factor, output width and the image
/// processor settings.
#[derive(Debug, Clone)]
pub struct MmprojConfig {
    pub vision: VisionConfig,
    pub scale_factor: usize,
    pub projection_dim: usize,
    pub processor: ProcessorConfig,
}

/// f32 metadata printed the way Python wrote it before the converter narrowed it (1e-05, not
/// 9.999999747378752e-06): the shortest decimal that round-trips through f32.
fn from_f32(x: f64) -> f64 {
    format!("{}", x as f32).parse().unwrap_or(x)
}

fn architecture(f: &GgufFile) -> Result<&str> {
    f.str_opt("general.architecture")?
        .ok_or_else(|| f.malformed("metadata general.architecture is missing"))
}

/// The decoder's config from `llama.*` metadata; vocabulary size and tying from the tensors.
pub fn text_config(f: &GgufFile) -> Result<TextConfig> {
    let arch = architecture(f)?;
    match arch {
        "llama" => {}
        "clip" => {
            return Err(Error::UnsupportedModel(format!(
                "{} is a vision projector (mmproj); pass the text model with --model and this file with --mmproj",
                f.path().display()
            )));
        }
        other => {
            return Err(Error::UnsupportedModel(format!(
                "{}: GGUF architecture {other:?} is not a SmolVLM decoder (llama)",
                f.path().display()
            )));
        }
    }
    let k = |s: &str| format!("llama.{s}");
    let hidden = f.usize_req(&k("embedding_length"))?;
    let heads = f.usize_req(&k("attention.head_count"))?;
    let embd = f
        .tensor_entry("token_embd.weight")
        .ok_or_else(|| f.malformed("tensor token_embd.weight is missing"))?;
    let vocab = match embd.shape.as_slice() {
        [v, h] if *h == hidden => *v,
        s => {
            return Err(f.malformed(format!(
                "token_embd.weight has shape {s:?}, not (vocab, {hidden})"
            )));
        }
    };
    let rope_scaling = match f.str_opt(&k("rope.scaling.type"))? {
        None | Some("none") => None,
        Some(t) => Some(RopeParameters {
            rope_type: Some(t.to_string()),
            rope_theta: None,
            factor: f.f64_opt(&k("rope.scaling.factor"))?.map(from_f32),
        }),
    };
    let token = |key: &str| -> Result<Option<u32>> {
        Ok(f.usize_opt(&format!("tokenizer.ggml.{key}"))?
            .map(|x| x as u32))
    };
    Ok(TextConfig {
        vocab_size: vocab,
        hidden_size: hidden,
        intermediate_size: f.usize_req(&k("feed_forward_length"))?,
        num_hidden_layers: f.usize_req(&k("block_count"))?,
        num_attention_heads: heads,
        num_key_value_heads: f.usize_opt(&k("attention.head_count_kv"))?,
        head_dim: f.usize_opt(&k("attention.key_length"))?,
        hidden_act: Activation::Silu,
        max_position_embeddings: f.usize_opt(&k("context_length"))?.unwrap_or(2048),
        rms_norm_eps: f
            .f64_opt(&k("attention.layer_norm_rms_epsilon"))?
            .map(from_f32)
            .unwrap_or(1e-5),
        rope_theta: Some(
            f.f64_opt(&k("rope.freq_base"))?
                .map(from_f32)
                .unwrap_or(10000.0),
        ),
        rope_scaling,
        rope_parameters: None,
        attention_bias: f.has_tensor("blk.0.attn_q.bias"),
        mlp_bias: f.has_tensor("blk.0.ffn_up.bias"),
        tie_word_embeddings: !f.has_tensor("output.weight"),
        bos_token_id: token("bos_token_id")?,
        eos_token_id: token("eos_token_id")?.map(TokenIds::One),
    })
}

/// The vision tower, connector and processor settings of an idefics3 mmproj.
pub fn mmproj_config(f: &GgufFile) -> Result<MmprojConfig> {
    let arch = architecture(f)?;
    if arch != "clip" {
        return Err(Error::UnsupportedModel(format!(
            "{} is not a vision projector (general.architecture {arch:?}, expected \"clip\")",
            f.path().display()
        )));
    }
    match f.str_opt("clip.projector_type")? {
        Some("idefics3") => {}
        other => {
            return Err(Error::UnsupportedModel(format!(
                "{}: projector type {other:?} is not SmolVLM's (idefics3)",
                f.path().display()
            )));
        }
    }
    if f.bool_opt("clip.has_vision_encoder")? == Some(false) {
        return Err(Error::UnsupportedModel(format!(
            "{} has no vision encoder",
            f.path().display()
        )));
    }
    let k = |s: &str| format!("clip.vision.{s}");
    let image_size = f.usize_req(&k("image_size"))?;
    let vision = VisionConfig {
        hidden_size: f.usize_req(&k("embedding_length"))?,
        intermediate_size: f.usize_req(&k("feed_forward_length"))?,
        num_hidden_layers: f.usize_req(&k("block_count"))?,
        num_attention_heads: f.usize_req(&k("attention.head_count"))?,
        num_channels: 3,
        image_size,
        patch_size: f.usize_req(&k("patch_size"))?,
        // clip.cpp: `use_silu` selects SiLU, otherwise GELU (ggml's tanh approximation, which
        // is SigLIP's gelu_pytorch_tanh).
        hidden_act: if f.bool_opt("clip.use_silu")? == Some(true) {
            Activation::Silu
        } else {
            Activation::GeluPytorchTanh
        },
        layer_norm_eps: f
            .f64_opt(&k("attention.layer_norm_epsilon"))?
            .map(from_f32)
            .unwrap_or(1e-6),
    };
    // transformers' Idefics3Config default when the key is absent.
    let scale_factor = f.usize_opt(&k("projector.scale_factor"))?.unwrap_or(2);
    let projection_dim = f.usize_req(&k("projection_dim"))?;
    let channels = |key: &str| -> Result<[f32; 3]> {
        match f.f32_array_opt(&k(key))? {
            None => Ok([0.5; 3]),
            Some(v) if v.len() == 3 => Ok([v[0], v[1], v[2]]),
            Some(v) => Err(f.malformed(format!("{} has {} values, not 3", k(key), v.len()))),
        }
    };
    let longest_edge = f
        .usize_opt(&k("preproc_image_size"))?
        .unwrap_or(4 * image_size);
    let to_u32 = |x: usize, what: &str| {
        u32::try_from(x).map_err(|_| f.malformed(format!("{what} {x} is out of range")))
    };
    let mut processor = ProcessorConfig {
        tile_size: to_u32(image_size, "image_size")?,
        longest_edge: to_u32(longest_edge, "preproc_image_size")?,
        image_mean: channels("image_mean")?,
        image_std: channels("image_std")?,
        ..ProcessorConfig::default()
    };
    if processor.image_std.contains(&0.0) || processor.tile_size == 0 {
        return Err(f.malformed("zero image_size or image_std"));
    }
    let patches = image_size.checked_div(vision.patch_size).unwrap_or(0);
    processor.image_seq_len = (patches * patches)
        .checked_div(scale_factor * scale_factor)
        .unwrap_or(0);
    Ok(MmprojConfig {
        vision,
        scale_factor,
        projection_dim,
        processor,
    })
}

/// The model config of a GGUF pair (or of a text model alone: the vision part then keeps
/// transformers' defaults and is never used).
pub fn model_config(
    text: &TextConfig,
    mmproj: Option<&MmprojConfig>,
    image_token_id: u32,
) -> ModelConfig {
    ModelConfig {
        model_type: "idefics3".into(),
        image_token_id,
        scale_factor: mmproj.map_or(2, |m| m.scale_factor),
        tie_word_embeddings: text.tie_word_embeddings,
        vision_config: mmproj.map(|m| m.vision.clone()).unwrap_or_default(),
        text_config: text.clone(),
    }
}

fn string_array<'a>(f: &'a GgufFile, key: &str) -> Result<Vec<&'a str>> {
    f.array_opt(key)?
        .ok_or_else(|| f.malformed(format!("metadata {key} is missing")))?
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.as_str()),
            _ => Err(f.malformed(format!("metadata {key} holds a non-string"))),
        })
        .collect()
}

/// llama.cpp's token types (`llama_token_type`).
const TOKEN_TYPE_CONTROL: i64 = 3;
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// The `tokenizer.json` that `tokenizers` would have for the GGUF's vocabulary: byte-level BPE
/// from `tokenizer.ggml.tokens` / `merges`, the pre-tokenizer named by `tokenizer.ggml.pre`, and
/// every CONTROL / USER_DEFINED token as an added token (special for CONTROL), all as SmolLM2's
/// `tokenizer.json` has them.
pub fn tokenizer_json(f: &GgufFile) -> Result<String> {
    match f.str_opt("tokenizer.ggml.model")? {
        Some("gpt2") => {}
        other => {
            return Err(Error::UnsupportedModel(format!(
                "{}: tokenizer model {other:?} is not byte-level BPE (gpt2)",
                f.path().display()
            )));
        }
    }
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    let pre_tokenizer = match f.str_opt("tokenizer.ggml.pre")? {
        // SmolLM / SmolLM2: digits split one by one, then GPT-2's byte-level regex.
        Some("smollm") => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true}, byte_level]}),
        Some("gpt-2") | Some("gpt2") | None => byte_level,
        Some(other) => {
            return Err(Error::UnsupportedModel(format!(
                "{}: pre-tokenizer {other:?} is not supported (smollm, gpt-2 are)",
                f.path().display()
            )));
        }
    };
    let tokens = string_array(f, "tokenizer.ggml.tokens")?;
    let merges = string_array(f, "tokenizer.ggml.merges")?;
    let types: Vec<i64> = match f.array_opt("tokenizer.ggml.token_type")? {
        None => vec![1; tokens.len()],
        Some(items) => items
            .iter()
            .map(|v| match *v {
                Value::I32(x) => Ok(x as i64),
                Value::U32(x) => Ok(x as i64),
                Value::I8(x) => Ok(x as i64),
                Value::U8(x) => Ok(x as i64),
                _ => Err(f.malformed("tokenizer.ggml.token_type holds a non-integer")),
            })
            .collect::<Result<_>>()?,
    };
    if types.len() != tokens.len() {
        return Err(f.malformed(format!(
            "{} token types for {} tokens",
            types.len(),
            tokens.len()
        )));
    }
    let mut vocab = serde_json::Map::with_capacity(tokens.len());
    let mut added = Vec::new();
    for (id, (&tok, &ty)) in tokens.iter().zip(&types).enumerate() {
        if !vocab.contains_key(tok) {
            vocab.insert(tok.to_string(), json!(id));
        }
        if ty == TOKEN_TYPE_CONTROL || ty == TOKEN_TYPE_USER_DEFINED {
            added.push(
                json!({"id": id, "content": tok, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": ty == TOKEN_TYPE_CONTROL}),
            );
        }
    }
    let merges: Vec<Json> = merges
        .iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| json!([a, b]))
                .ok_or_else(|| f.malformed(format!("merge {m:?} is not two tokens")))
        })
        .collect::<Result<_>>()?;
    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merges},
    });
    Ok(tokenizer.to_string())
}

/// The tokenizer settings `tokenizer_config.json` would give: the named special tokens from
/// `tokenizer.ggml.*_token_id`, SmolVLM's image tokens when the vocabulary has them,
/// `add_bos_token` / `add_eos_token`, and the chat template.
pub fn tokenizer_config(f: &GgufFile) -> Result<TokenizerConfig> {
    let tokens = string_array(f, "tokenizer.ggml.tokens")?;
    let mut cfg = TokenizerConfig::default();
    for (name, key) in [
        ("bos_token", "bos_token_id"),
        ("eos_token", "eos_token_id"),
        ("unk_token", "unknown_token_id"),
        ("sep_token", "seperator_token_id"),
        ("pad_token", "padding_token_id"),
    ] {
        if let Some(id) = f.usize_opt(&format!("tokenizer.ggml.{key}"))? {
            let tok = tokens
                .get(id)
                .ok_or_else(|| f.malformed(format!("{key} {id} is past the vocabulary")))?;
            cfg.special_tokens_map
                .push((name.to_string(), tok.to_string()));
        }
    }
    for (name, tok) in [
        (
            "end_of_utterance_token",
            smolvlm_text::END_OF_UTTERANCE_TOKEN,
        ),
        ("fake_image_token", smolvlm_text::FAKE_TOKEN_AROUND_IMAGE),
        ("global_image_token", smolvlm_text::GLOBAL_IMAGE_TOKEN),
        ("image_token", smolvlm_text::IMAGE_TOKEN),
    ] {
        if tokens.contains(&tok) {
            cfg.special_tokens_map
                .push((name.to_string(), tok.to_string()));
        }
    }
    cfg.add_bos_token = f.bool_opt("tokenizer.ggml.add_bos_token")?;
    cfg.add_eos_token = f.bool_opt("tokenizer.ggml.add_eos_token")?;
    cfg.chat_template = f.str_opt("tokenizer.chat_template")?.map(str::to_string);
    Ok(cfg)
}

/// The tokenizer of a GGUF text model.
pub fn tokenizer(f: &GgufFile) -> Result<Tokenizer> {
    let json = tokenizer_json(f)?;
    let cfg = tokenizer_config(f)?;
    Ok(Tokenizer::from_parts(&json, cfg)?)
}

/// `tokenizer.chat_template`, else SmolVLM's default, with the tokenizer's special tokens.
pub fn chat_template(f: &GgufFile, tokenizer: &Tokenizer) -> Result<ChatTemplate> {
    let template = match f.str_opt("tokenizer.chat_template")? {
        Some(source) => ChatTemplate::from_source(source)?,
        None => ChatTemplate::smolvlm_default(),
    };
    Ok(template.with_special_tokens(tokenizer.special_tokens_map().to_vec()))
}
