//! Fuzz targets: one `pub fn <target>(data: &[u8])` per input the project reads from files or
//! callers it does not control, each feeding the bytes to the real entry point. A target
//! returns for any input; errors are the expected outcome. A panic that escapes, an abort, a
//! hang or a huge allocation is a bug (libFuzzer reports it; see docs/fuzzing.md).
//!
//! The same functions run two ways: under libFuzzer (`fuzz/`, built by `scripts/fuzz.sh`) and
//! over the committed corpora and regression inputs in this crate's tests (`tests/replay.rs`),
//! so every `cargo test --workspace` replays them.

mod api_request;
mod chat_template;
mod config_json;
mod gguf;
mod gguf_writer;
mod image;
mod pdf;
mod safetensors;
mod scratch;
#[cfg(feature = "app")]
mod store;
mod tokenizer_gguf;

pub use api_request::api_request;
pub use chat_template::chat_template;
pub use config_json::config_json;
pub use gguf::gguf;
pub use gguf_writer::GgufWriter;
pub use image::image;
pub use pdf::pdf;
pub use safetensors::safetensors_header;
#[cfg(feature = "app")]
pub use store::store;
pub use tokenizer_gguf::tokenizer_gguf;

/// A target: its name (of `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/`) and function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("image", image),
    ("gguf", gguf),
    ("tokenizer_gguf", tokenizer_gguf),
    ("safetensors_header", safetensors_header),
    ("config_json", config_json),
    ("chat_template", chat_template),
    ("pdf", pdf),
    ("api_request", api_request),
    #[cfg(feature = "app")]
    ("store", store),
];

/// Call once before fuzzing. libfuzzer-sys's panic hook aborts on *every* panic, including
/// those the code catches on purpose (the GGUF header parse, the PDF parser and renderer run
/// under `catch_unwind`: a dependency's panic there is a typed error, by design). This puts the
/// default hook back, so only a panic that escapes a target reaches libfuzzer-sys's own
/// `catch_unwind` and aborts. `SMOLVLM_FUZZ_STRICT=1` keeps the aborting hook, to hunt the
/// dependency panics those backstops catch.
pub fn init() {
    if std::env::var_os("SMOLVLM_FUZZ_STRICT").is_none() {
        let _ = std::panic::take_hook();
    }
}
