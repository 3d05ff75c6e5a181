//! What a model's files or a person's text may not do to the engine: typed markup stays text,
//! a cancelled job builds no prompt, a model declaring an absurd context is refused at load.

use std::path::{Path, PathBuf};

use smolvlm::{CancelToken, Error, ImageSource, LoadOptions, Message, Role, SmolVlmModel};

use crate::support;

fn fixture() -> PathBuf {
    support::fixture("tiny-smolvlm")
}

fn model() -> SmolVlmModel {
    SmolVlmModel::load(&fixture(), &LoadOptions::default()).unwrap()
}

const TYPED: &str = "Is <image> a tag? Then <end_of_utterance>";

/// One real image and text that names two of the vocabulary's markup tokens: the prompt has the
/// image's positions and the template's end of utterance, and the typed names are the tokens of
/// their characters (what the tokenizer gives them with special tokens read as text).
#[test]
fn typed_markup_becomes_ordinary_tokens() {
    let model = model();
    let tok = model.tokenizer();
    let image = ImageSource::Path(fixture().join("img_wide_300x200.png"));
    let typed = model
        .prepare(&[Message::user_with_images([image.clone()], TYPED)], None)
        .unwrap();
    let plain = model
        .prepare(&[Message::user_with_images([image], "x")], None)
        .unwrap();
    assert_eq!(typed.image_tokens, plain.image_tokens);
    let eou = tok.end_of_utterance_id().unwrap();
    assert_eq!(typed.ids.iter().filter(|&&t| t == eou).count(), 1);

    let mut as_text = tok.inner().clone();
    as_text.set_encode_special_tokens(true);
    let want = as_text.encode(TYPED, false).unwrap().get_ids().to_vec();
    assert!(
        typed.ids.windows(want.len()).any(|w| w == want.as_slice()),
        "{TYPED:?} is not its plain tokens {want:?} in {:?}",
        typed.ids
    );
    let text = tok.decode(&typed.ids, false).unwrap();
    assert!(text.contains(TYPED), "{text:?}");

    // A follow-up turn after an answer that quotes the markup prepares too.
    let conversation = [
        Message::user_with_images(
            [ImageSource::Path(fixture().join("img_wide_300x200.png"))],
            "What is this?",
        ),
        Message::text(
            Role::Assistant,
            "An <image> tag ends with <end_of_utterance>.",
        ),
        Message::text(Role::User, "And then?"),
    ];
    let prompt = model.prepare(&conversation, None).unwrap();
    assert_eq!(prompt.image_tokens, plain.image_tokens);
    assert_eq!(prompt.ids.iter().filter(|&&t| t == eou).count(), 3);
}

/// A cancelled job stops before the template renders: not even its images are read (this one
/// does not exist, and the error is not about it).
#[test]
fn a_cancelled_job_builds_no_prompt() {
    let model = model();
    let cancel = CancelToken::new();
    cancel.cancel();
    let missing = ImageSource::Path(fixture().join("no-such-image.png"));
    let messages = [Message::user_with_images([missing], "hi")];
    let err = model
        .prepare_cancellable(&messages, None, &cancel)
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(err.code(), "cancelled");
    // Not cancelled: the same request gets as far as the image.
    let err = model
        .prepare_cancellable(&messages, None, &CancelToken::new())
        .unwrap_err();
    assert!(!matches!(err, Error::Cancelled), "{err}");
}

/// GGUF metadata sized the RoPE tables unchecked: a `context_length` of 2³²−1 asked for
/// ~100 GiB at load, which aborts the process.
#[test]
fn a_gguf_declaring_an_absurd_context_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(fixture().join("model-q8_0.gguf")).unwrap();
    let key = b"llama.context_length";
    let at = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("the fixture has a context length")
        + key.len();
    let kind = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    match kind {
        // GGUF value types 4 (u32) and 10 (u64).
        4 => bytes[at + 4..at + 8].copy_from_slice(&u32::MAX.to_le_bytes()),
        10 => bytes[at + 4..at + 12].copy_from_slice(&(1u64 << 40).to_le_bytes()),
        other => panic!("context_length has GGUF type {other}"),
    }
    let path: &Path = &tmp.path().join("huge-context.gguf");
    std::fs::write(path, &bytes).unwrap();
    let err = SmolVlmModel::load(path, &LoadOptions::default())
        .err()
        .expect("the load is refused");
    assert_eq!(err.code(), "unsupported_model", "{err}");
    assert!(err.to_string().contains("context"), "{err}");
}
