//! `chat_template`: a chat template as a model's files give it (anyone can publish one),
//! compiled and rendered over a small conversation with an image, a system prompt and an
//! answer, and over messages given as JSON (the template's own idea of a conversation). Each
//! render must end within its fuel and stay within its output cap, whatever the template does.
//!
//! The input: the template, then optionally a NUL and the messages as JSON.

use std::path::PathBuf;

use smolvlm_text::{ChatTemplate, ContentPart, ImageSource, Message, Role, count_image_markers};

/// The renderer's output cap (`template::limits::MAX_OUTPUT`, private to its crate).
const MAX_OUTPUT: usize = 4 << 20;

pub fn chat_template(data: &[u8]) {
    let (source, messages) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let Ok(source) = std::str::from_utf8(source) else {
        return;
    };
    let Ok(template) = ChatTemplate::from_source(source) else {
        return;
    };
    let template = template.with_special_tokens(vec![
        ("bos_token".into(), "<|im_start|>".into()),
        ("eos_token".into(), "<end_of_utterance>".into()),
        ("image_token".into(), "<image>".into()),
    ]);
    for add_generation_prompt in [true, false] {
        if let Ok(out) = template.render(&conversation(), add_generation_prompt) {
            assert!(out.len() <= MAX_OUTPUT, "{} bytes of output", out.len());
            let _ = count_image_markers(&out);
        }
    }
    if let Some(json) = messages.and_then(|m| std::str::from_utf8(m).ok())
        && let Ok(out) = template.render_json(json, true)
    {
        assert!(out.len() <= MAX_OUTPUT, "{} bytes of output", out.len());
    }
}

fn conversation() -> Vec<Message> {
    vec![
        Message::text(Role::System, "Be brief."),
        Message {
            role: Role::User,
            content: vec![
                ContentPart::Image(ImageSource::Path(PathBuf::from("a.png"))),
                ContentPart::Text("What is this?".into()),
            ],
        },
        Message::text(Role::Assistant, "A cat."),
        Message::text(Role::User, "And {{ this }}?"),
    ]
}
