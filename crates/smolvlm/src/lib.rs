//! SmolVLM engine: everything needed to answer questions about images with a SmolVLM-family model,
//! with no GUI dependency. The app and the `smolvlm` CLI are thin layers over [`Engine`].

pub mod config;
pub mod device;
pub mod error;

pub use error::{Error, Result};

pub use smolvlm_image as image;
pub use smolvlm_text as text;
pub use smolvlm_text::chat;
pub mod engine;
pub mod generate;
pub mod model;

pub use chat::{ContentPart, ImageSource, Message, Role};
pub use device::{DevicePreference, select_device};
pub use engine::{LoadOptions, PreparedPrompt, SmolVlmModel};
pub use generate::{
    CancelToken, Generation, GenerationEvent, GenerationSummary, SamplingParams, StopReason,
    Timings,
};
pub use quant::Quantization;
pub mod bench;
pub mod gguf;
pub mod quant;
/// Which CPU kernels run (detected once; the shell shows it beside the device).
pub use smolvlm_kernels::SimdLevel;
pub use smolvlm_kernels::threads;
