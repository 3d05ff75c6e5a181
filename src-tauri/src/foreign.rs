//! The TypeScript shapes of the engine's and hub's types that cross the IPC boundary (those
//! crates do not depend on specta): each mirrors the serde form of the type it stands for
//! (`#[specta(type = …)]` on the fields that hold one), checked by
//! `tests::contract::foreign_mirrors_match_their_types`. Leaf module: it uses nothing of the
//! crate, and the domain types name it in their `#[specta(type = …)]` attributes.

#![allow(dead_code)]

use serde::Serialize;

/// An `f64` or `f32` the app sends finite (timings, rates, sampling settings): TypeScript's
/// `number`. (Specta types every float `number | null`, since serde_json writes NaN and the
/// infinities as `null`.)
pub struct Finite;

impl specta::Type for Finite {
    fn definition(types: &mut specta::Types) -> specta::datatype::DataType {
        <i32 as specta::Type>::definition(types)
    }
}

/// `smolvlm::Role`.
#[derive(Serialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// `smolvlm::StopReason`.
#[derive(Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Eos,
    Length,
    Cancelled,
}

/// `smolvlm::image::Resolution`.
#[derive(Serialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    Fast,
    Standard,
    Document,
}

/// `smolvlm::DevicePreference`.
#[derive(Serialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum DevicePreference {
    Auto,
    Cpu,
    Cuda,
    Metal,
}

/// `smolvlm_hub::catalog::Format`.
#[derive(Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ModelFormat {
    Safetensors,
    Gguf,
}
