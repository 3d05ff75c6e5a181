//! SmolVLM's text side: conversation types, chat template, `<image>` expansion, tokenizer and
//! streaming detokenization, all as transformers' `Idefics3Processor` / `SmolVLMProcessor` do it.

pub mod chat;
pub mod error;

pub use error::{Result, TextError};
