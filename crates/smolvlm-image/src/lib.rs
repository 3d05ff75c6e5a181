//! SmolVLM's image processor, reproducing transformers' `Idefics3ImageProcessor` (PIL path)
//! bit for bit: file decoding as `load_image` + `convert_to_rgb` does it ([`load`]; JPEG through
//! libjpeg-turbo exactly as Pillow drives it, docs/jpeg.md), Pillow's
//! resampling ([`resample`]), and the longest-edge resize, tile grid and normalization
//! ([`processor`]).
//!
//! Speed: `examples/process_bench.rs` times [`ImageProcessor::process`] on a 4000×3000 RGB image
//! with the SmolVLM-256M settings (longest edge 2048, 512 tiles, 13 frames): 0.18 s in a
//! release build on a 2-core x86-64 machine, single-threaded.

pub mod config;
pub mod error;
mod jpeg;
mod limits;
pub mod load;
mod orientation;
mod preset;
pub mod processor;
pub mod resample;

pub use config::ProcessorConfig;
pub use error::{ImageError, Result};
pub use limits::{ImageLimits, MAX_DECODE_ALLOC, MAX_FILE_BYTES, MAX_IMAGE_SIDE};
pub use load::{decode_image_bytes, image_dimensions, load_image_file};
pub use preset::{DOCUMENT_TILES, Resolution};
pub use processor::{ImagePlan, ImageProcessor, MAX_IMAGE_SIZE, ProcessedImage};
pub use resample::Filter;
