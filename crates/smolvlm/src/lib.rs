//! SmolVLM engine: everything needed to answer questions about images with a SmolVLM-family model,
//! with no GUI dependency. The app and the `smolvlm` CLI are thin layers over [`SmolVlmModel`]
//! (load, [`SmolVlmModel::prepare`], [`SmolVlmModel::generate`]); `ARCHITECTURE.md` draws the
//! modules and the data path.

pub mod bench;
pub mod compute;
pub mod config;
mod cuda_libs;
pub mod device;
pub mod engine;
pub mod error;
mod frontend;
pub mod generate;
pub mod gguf;
pub mod model;
pub mod quant;
mod session;

pub use smolvlm_image as image;
pub use smolvlm_text as text;
pub use smolvlm_text::chat;

pub use chat::{ContentPart, ImageSource, Message, Role};
pub use compute::Compute;
pub use device::{BackendStatus, DeviceChoice, DevicePreference, backends, select_device};
pub use engine::{LoadOptions, SmolVlmModel};
pub use error::{Error, Result};
pub use frontend::PreparedPrompt;
pub use generate::{
    CancelToken, Generation, GenerationEvent, GenerationSummary, SamplingParams, StopReason,
    Timings,
};
pub use quant::Quantization;
/// Which CPU kernels run (detected once; the shell shows it beside the device).
pub use smolvlm_kernels::SimdLevel;
