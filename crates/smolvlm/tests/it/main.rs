//! The engine's integration tests, in one binary: each test file linked on its own cost a copy
//! of candle and the engine (hundreds of MB in a debug build) and a link step.

mod support;

mod generation;
mod gguf;
mod golden_parity;
mod gpu;
mod jpeg_parity;
mod quantized;
mod real_weights;
mod threads;
mod trust;
