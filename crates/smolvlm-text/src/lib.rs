//! SmolVLM's text side: conversation types, chat template, `<image>` expansion, tokenizer and
//! streaming detokenization, all as transformers' `Idefics3Processor` / `SmolVLMProcessor` do it.

pub mod chat;
pub mod config;
pub mod detokenize;
pub mod error;
pub mod expand;
mod markup;
pub mod template;
pub mod tokenizer;

pub use chat::{ContentPart, ImageSource, Message, Role};
pub use config::TokenizerConfig;
pub use detokenize::StreamDecoder;
pub use error::{Result, TemplateLimit, TextError};
pub use expand::{
    END_OF_UTTERANCE_TOKEN, FAKE_TOKEN_AROUND_IMAGE, GLOBAL_IMAGE_TOKEN, IMAGE_TOKEN, ImageTokens,
    count_image_markers, expand_images, expand_images_with, image_prompt, image_prompt_with,
};
pub use template::{ChatTemplate, DEFAULT_CHAT_TEMPLATE, TemplateOrigin};
pub use tokenizer::Tokenizer;
