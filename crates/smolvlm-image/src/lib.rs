//! SmolVLM's image processor, reproducing transformers' `Idefics3ImageProcessor` (PIL path).

pub mod config;
pub mod error;

pub use config::ProcessorConfig;
pub use error::{ImageError, Result};
