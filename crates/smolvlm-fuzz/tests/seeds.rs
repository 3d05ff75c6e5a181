//! The seeds reach past the parsers' first checks: a corpus of inputs that all fail early
//! would leave the fuzzer to rediscover the format on its own.

use std::path::{Path, PathBuf};

fn corpus(target: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
        .join(name)
}

#[test]
fn gguf_seeds_load_their_configs_and_tokenizer() {
    use smolvlm::gguf;
    let text = gguf::GgufFile::open(&corpus("gguf", "text-model.gguf")).unwrap();
    gguf::text_config(&text).unwrap();
    let tokenizer = gguf::tokenizer(&text).unwrap();
    assert!(!tokenizer.encode("Hello 12").unwrap().is_empty());
    gguf::chat_template(&text, &tokenizer).unwrap();
    let mmproj = gguf::GgufFile::open(&corpus("gguf", "mmproj.gguf")).unwrap();
    gguf::mmproj_config(&mmproj).unwrap();
}

#[test]
fn api_seeds_pass_the_request_checks() {
    let cfg = smolvlm_server::ServerConfig::default();
    for name in ["text.json", "params.json", "image.json", "pdf.json"] {
        let body = std::fs::read(corpus("api_request", name)).unwrap();
        smolvlm_server::check_chat_request(&body, &cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn image_and_pdf_seeds_decode() {
    let limits = smolvlm_image::ImageLimits::default();
    for entry in std::fs::read_dir(corpus("image", "")).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap();
        smolvlm_image::decode_image_bytes(&bytes, "seed", &limits)
            .unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
    }
    let limits = smolvlm_pdf::Limits::default();
    for name in ["vector.pdf", "rotated.pdf", "text.pdf"] {
        let bytes = std::fs::read(corpus("pdf", name)).unwrap();
        smolvlm_pdf::Document::open(bytes, &limits).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn store_seeds_read_as_conversations() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("conversations")).unwrap();
    for name in ["complete.json", "streaming.json"] {
        std::fs::copy(
            corpus("store", name),
            dir.path().join("conversations/c-fuzz.json"),
        )
        .unwrap();
        let store = smolvlm_desktop::store::Store::open(dir.path()).unwrap();
        store
            .get("c-fuzz")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
