//! The TypeScript shapes of the engine's and hub's types that cross the IPC boundary (those
//! crates do not depend on specta): each mirrors the serde form of the type it stands for
//! (`#[specta(type = …)]` on the fields that hold one), checked by
//! `tests::contract::foreign_mirrors_match_their_types`.

#![allow(dead_code)]

use serde::Serialize;

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
