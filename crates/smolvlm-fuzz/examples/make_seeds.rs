//! Writes the seed corpora, `fuzz/corpus/<target>/`, from the test fixtures: small images of
//! every format, GGUF files made small (a vocabulary of a few hundred tokens), a safetensors
//! header, the model JSON files, chat templates, small PDFs, API bodies and conversation files.
//!
//! `cargo run -p smolvlm-fuzz --example make_seeds` (then `bash scripts/fuzz.sh merge TARGET` to
//! fold in what fuzzing found). Existing seeds of the same names are overwritten; the whole
//! corpus stays well under a megabyte.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Value, json};
use smolvlm_fuzz::GgufWriter;

/// Tokens kept of the tiny model's vocabulary (the 256 byte tokens come first in it).
const VOCAB: usize = 400;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(rel: &str) -> Vec<u8> {
    let path = root().join("tests/fixtures").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn seed(target: &str, name: &str, bytes: &[u8]) {
    let dir = root().join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    images();
    let tok = small_tokenizer();
    gguf(&tok);
    tokenizer_gguf(&tok);
    safetensors();
    config_json(&tok);
    chat_templates();
    pdfs();
    api_requests();
    conversations();
}

fn images() {
    for name in [
        "gray1.png",
        "gray4_trns3.png",
        "p_trns_alpha.png",
        "l_trns.png",
        "plain.gif",
        "trns.gif",
        "baseline420.jpg",
        "progressive.jpg",
        "exif6.jpg",
        "gray.jpg",
        "cmyk.jpg",
        "lossy.webp",
    ] {
        seed(
            "image",
            name,
            &fixture(&format!("processor/formats/{name}")),
        );
    }
    seed(
        "image",
        "img_1x1.png",
        &fixture("processor/images/img_1x1.png"),
    );
    // BMP and TIFF small enough to keep, encoded here (the fixtures' are 9 KB and none).
    let img = image::RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8 * 30, y as u8 * 50, 99]));
    for (name, format) in [
        ("small.bmp", image::ImageFormat::Bmp),
        ("small.tiff", image::ImageFormat::Tiff),
        ("small.webp", image::ImageFormat::WebP),
    ] {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        seed("image", name, &out.into_inner());
    }
}

/// The tiny model's tokenizer cut to its first [`VOCAB`] tokens, the merges among them and its
/// special tokens: `(tokenizer.json, tokens, merges, special token contents)`.
struct SmallTokenizer {
    json: Value,
    tokens: Vec<String>,
    merges: Vec<String>,
    special: Vec<(u32, String)>,
}

fn small_tokenizer() -> SmallTokenizer {
    let mut json: Value = serde_json::from_slice(&fixture("tiny-smolvlm/tokenizer.json")).unwrap();
    let vocab = json["model"]["vocab"].as_object().unwrap();
    let mut by_id: Vec<(u64, String)> = vocab
        .iter()
        .map(|(t, id)| (id.as_u64().unwrap(), t.clone()))
        .collect();
    by_id.sort();
    by_id.truncate(VOCAB);
    let tokens: Vec<String> = by_id.iter().map(|(_, t)| t.clone()).collect();
    let kept: std::collections::HashSet<&str> = tokens.iter().map(String::as_str).collect();
    let merges: Vec<String> = json["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| {
            let (a, b) = (m[0].as_str()?, m[1].as_str()?);
            let joined = format!("{a}{b}");
            (kept.contains(a) && kept.contains(b) && kept.contains(joined.as_str()))
                .then(|| format!("{a} {b}"))
        })
        .collect();
    let special: Vec<(u32, String)> = json["added_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["id"].as_u64().unwrap() < VOCAB as u64)
        .map(|t| {
            (
                t["id"].as_u64().unwrap() as u32,
                t["content"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    json["model"]["vocab"] =
        Value::Object(by_id.iter().map(|(id, t)| (t.clone(), json!(id))).collect());
    json["model"]["merges"] = json!(
        merges
            .iter()
            .map(|m| m.split_once(' ').unwrap())
            .map(|(a, b)| json!([a, b]))
            .collect::<Vec<_>>()
    );
    json["added_tokens"] = json!(
        json["added_tokens"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["id"].as_u64().unwrap() < VOCAB as u64)
            .cloned()
            .collect::<Vec<_>>()
    );
    SmallTokenizer {
        json,
        tokens,
        merges,
        special,
    }
}

fn gguf(tok: &SmallTokenizer) {
    let template = String::from_utf8(fixture("tiny-smolvlm/chat_template.json")).unwrap();
    let template: Value = serde_json::from_str(&template).unwrap();
    let mut types = vec![1i32; tok.tokens.len()];
    for (id, _) in &tok.special {
        types[*id as usize] = 3;
    }
    let hidden = 8;
    let mut text = GgufWriter::default();
    text.string("general.architecture", b"llama")
        .string("general.name", b"tiny")
        .u32("llama.embedding_length", hidden)
        .u32("llama.attention.head_count", 2)
        .u32("llama.attention.head_count_kv", 1)
        .u32("llama.feed_forward_length", 16)
        .u32("llama.block_count", 1)
        .u32("llama.context_length", 256)
        .f32("llama.attention.layer_norm_rms_epsilon", 1e-5)
        .f32("llama.rope.freq_base", 100000.0)
        .string("tokenizer.ggml.model", b"gpt2")
        .string("tokenizer.ggml.pre", b"smollm")
        .strings("tokenizer.ggml.tokens", &tok.tokens)
        .i32s("tokenizer.ggml.token_type", &types)
        .strings("tokenizer.ggml.merges", &tok.merges)
        .u32("tokenizer.ggml.bos_token_id", 1)
        .u32("tokenizer.ggml.eos_token_id", 2)
        .bool("tokenizer.ggml.add_bos_token", false)
        .string(
            "tokenizer.chat_template",
            template["chat_template"].as_str().unwrap().as_bytes(),
        )
        .f32_tensor(
            "token_embd.weight",
            &[tok.tokens.len() as u64, u64::from(hidden)],
        )
        .f32_tensor(
            "blk.0.attn_q.weight",
            &[u64::from(hidden), u64::from(hidden)],
        );
    seed("gguf", "text-model.gguf", &text.finish());

    let mut mmproj = GgufWriter::default();
    mmproj
        .string("general.architecture", b"clip")
        .string("general.type", b"mmproj")
        .string("clip.projector_type", b"idefics3")
        .bool("clip.has_vision_encoder", true)
        .u32("clip.vision.image_size", 128)
        .u32("clip.vision.patch_size", 16)
        .u32("clip.vision.embedding_length", 64)
        .u32("clip.vision.feed_forward_length", 128)
        .u32("clip.vision.block_count", 2)
        .u32("clip.vision.attention.head_count", 4)
        .f32("clip.vision.attention.layer_norm_epsilon", 1e-6)
        .u32("clip.vision.projector.scale_factor", 4)
        .u32("clip.vision.projection_dim", 64)
        .u64("clip.vision.preproc_image_size", 512)
        .f32s("clip.vision.image_mean", &[0.5, 0.5, 0.5])
        .f32s("clip.vision.image_std", &[0.5, 0.5, 0.5])
        .f32_tensor("v.patch_embd.weight", &[64, 3, 4, 4]);
    seed("gguf", "mmproj.gguf", &mmproj.finish());
    // A real converter's output, cut after its header: the tensors it lists lie past the end.
    let real = fixture("tiny-smolvlm/mmproj-q8_0.gguf");
    seed(
        "gguf",
        "mmproj-q8_0-truncated.gguf",
        &real[..real.len().min(16 << 10)],
    );
}

fn tokenizer_gguf(tok: &SmallTokenizer) {
    let mut types = vec![1u8; tok.tokens.len()];
    for (id, _) in &tok.special {
        types[*id as usize] = 3;
    }
    let tokens: Vec<String> = tok
        .tokens
        .iter()
        .zip(&types)
        .map(|(t, ty)| format!("{ty} {t}"))
        .collect();
    let body = format!(
        "smollm 1 2\n%%\n{}\n%%\n{}\n%%\nHello <|im_start|>world 2024, ça va? <image>",
        tokens.join("\n"),
        tok.merges.join("\n")
    );
    seed("tokenizer_gguf", "smollm.txt", body.as_bytes());
    seed(
        "tokenizer_gguf",
        "bytes-only.txt",
        "gpt2\n%%\n1a\n1b\n1ab\n3<s>\n4<x>\n%%\na b\n%%\nabab <s> <x>".as_bytes(),
    );
}

fn safetensors() {
    let real = fixture("tiny-smolvlm/model.safetensors");
    let header_len = u64::from_le_bytes(real[..8].try_into().unwrap()) as usize;
    // The tiny model's real header, its tensors cut off.
    let mut header = vec![0u8];
    header.extend_from_slice(&real[..8 + header_len]);
    seed("safetensors_header", "tiny-header.bin", &header);
    // One small tensor, complete.
    let one = tensor_file(
        r#"{"model.text_model.norm.weight":{"dtype":"F32","shape":[64],"data_offsets":[0,256]},"__metadata__":{"format":"pt"}}"#,
        256,
    );
    let mut single = vec![0u8];
    single.extend_from_slice(&one);
    seed("safetensors_header", "one-tensor.bin", &single);
    let mut sharded = vec![1u8];
    sharded.extend_from_slice(
        br#"{"metadata":{"total_size":256},"weight_map":{"model.text_model.norm.weight":"shard.safetensors"}}"#,
    );
    sharded.push(0);
    sharded.extend_from_slice(&one);
    seed("safetensors_header", "index-and-shard.bin", &sharded);
}

fn tensor_file(header: &str, data_len: usize) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.resize(out.len() + data_len, 0);
    out
}

fn config_json(tok: &SmallTokenizer) {
    // The first byte picks the file (the target's FILES order).
    for (pick, name) in [
        (0u8, "config.json"),
        (1, "preprocessor_config.json"),
        (2, "processor_config.json"),
        (3, "tokenizer_config.json"),
        (4, "chat_template.json"),
        (5, "generation_config.json"),
    ] {
        for model in ["tiny-smolvlm", "tiny-2b-style"] {
            let mut bytes = vec![pick];
            bytes.extend_from_slice(&fixture(&format!("{model}/{name}")));
            seed("config_json", &format!("{model}-{name}"), &bytes);
        }
    }
    let mut tokenizer = vec![6u8];
    tokenizer.extend_from_slice(tok.json.to_string().as_bytes());
    seed("config_json", "small-tokenizer.json", &tokenizer);
    let nested = json!({"image_seq_len": 64, "image_processor": {"size": {"longest_edge": 2048},
        "max_image_size": {"longest_edge": 512}, "image_std": 0.5, "resample": 3}});
    let mut bytes = vec![2u8];
    bytes.extend_from_slice(nested.to_string().as_bytes());
    seed("config_json", "processor-nested.json", &bytes);
}

fn chat_templates() {
    seed(
        "chat_template",
        "smolvlm-default.jinja",
        smolvlm_text::DEFAULT_CHAT_TEMPLATE.as_bytes(),
    );
    // SmolLM2's (a GGUF text model's): string content.
    let smollm2 = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
    seed("chat_template", "smollm2.jinja", smollm2.as_bytes());
    let llama = "{{- bos_token }}{%- set date_string = strftime_now('%d %b %Y') %}{%- for message in messages %}{%- if message.content is string %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{%- else %}{%- for part in message.content %}{%- if part.type == 'text' %}{{ part.text | tojson(indent=2) }}{%- elif part.type == 'image' %}{{ '<|image|>' }}{%- else %}{{ raise_exception('unknown part ' ~ part.type) }}{%- endif %}{%- endfor %}{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %}";
    seed("chat_template", "llama-style.jinja", llama.as_bytes());
    let macros = "{% macro part(p) %}{{ p.type }}:{{ p.text | default('') | upper }}{% endmacro %}{% for m in messages %}{% for p in m.content %}{{ part(p) }}{% endfor %}{{ m.role.title() }}|{{ m | length }}{% endfor %}{{ messages | map(attribute='role') | join(',') }}";
    let mut with_json = macros.as_bytes().to_vec();
    with_json.push(0);
    with_json.extend_from_slice(
        br#"[{"role":"user","content":[{"type":"video"},{"type":"text","text":"hi"}]},{"role":"assistant","content":"yes"}]"#,
    );
    seed("chat_template", "macros-and-json.jinja", &with_json);
}

fn pdfs() {
    for name in ["vector.pdf", "rotated.pdf", "text.pdf", "encrypted.pdf"] {
        seed("pdf", name, &fixture(&format!("pdf/{name}")));
    }
}

fn api_requests() {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let png = b64(&fixture("processor/images/img_1x1.png"));
    let pdf = b64(&fixture("pdf/vector.pdf"));
    let bodies = [
        (
            "text.json",
            json!({"model": "", "messages": [{"role": "user", "content": "Hi"}]}),
        ),
        (
            "params.json",
            json!({"messages": [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                "temperature": 0.2, "top_p": 0.9, "max_tokens": 16, "seed": -3, "n": 1,
                "stop": ["\n", "END"], "stream": true, "stream_options": {"include_usage": true}}),
        ),
        (
            "image.json",
            json!({"messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{png}"), "detail": "low"}},
                {"type": "text", "text": "What is this?"}]}]}),
        ),
        (
            "pdf.json",
            json!({"messages": [{"role": "user", "content": [
                {"type": "file", "file": {"file_data": format!("data:application/pdf;base64,{pdf}"),
                    "filename": "a.pdf", "pages": "1,1-1"}},
                {"type": "text", "text": "Summarize"}]}], "max_completion_tokens": 8}),
        ),
        (
            "paths.json",
            json!({"messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "file:///nonexistent/a%20b.png"}},
                {"type": "image_url", "image_url": {"url": "/nonexistent/c.pdf"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}}]}]}),
        ),
    ];
    for (name, body) in bodies {
        seed("api_request", name, body.to_string().as_bytes());
    }
}

fn conversations() {
    let sha = "ab".repeat(32);
    let complete = json!({"schemaVersion": 1, "id": "c-fuzz", "title": "A cat", "createdMs": 1,
        "updatedMs": 2, "messages": [
            {"id": "m1", "role": "user", "text": "What is this?", "status": "complete", "createdMs": 1,
             "images": [{"sha256": sha, "file": format!("{sha}.png"), "originalName": "cat.png",
                "width": 30, "height": 20, "page": {"document": "a.pdf", "page": 1, "pages": 2}}]},
            {"id": "m2", "role": "assistant", "text": "A cat.", "status": "complete", "createdMs": 2,
             "generatedTokens": 3, "answeredBy": "SmolVLM-256M"}]});
    seed(
        "store",
        "complete.json",
        serde_json::to_string_pretty(&complete).unwrap().as_bytes(),
    );
    let streaming = json!({"schemaVersion": 1, "id": "c-fuzz", "title": "", "createdMs": 5,
        "updatedMs": 6, "messages": [
            {"id": "m1", "role": "user", "text": "Hi", "status": "complete", "createdMs": 5},
            {"id": "m2", "role": "assistant", "text": "Hel", "status": "streaming", "createdMs": 6},
            {"id": "m3", "role": "assistant", "text": "", "status": "error", "createdMs": 7,
             "error": {"code": "cancelled", "message": "stopped"}}]});
    let text = serde_json::to_string(&streaming).unwrap();
    seed("store", "streaming.json", text.as_bytes());
    // What a crash in the middle of a non-atomic write by another program leaves.
    seed(
        "store",
        "half-written.json",
        &text.as_bytes()[..text.len() / 2],
    );
}
