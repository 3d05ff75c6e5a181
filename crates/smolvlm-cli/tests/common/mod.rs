//! What the CLI's test binaries share: the committed fixtures, running `smolvlm`, reading its
//! JSON. (Each test binary uses a part of it.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The tiny random SmolVLM model.
pub fn model() -> String {
    fixtures().join("tiny-smolvlm").display().to_string()
}

pub fn smolvlm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smolvlm"))
        .args(args)
        .output()
        .expect("run smolvlm")
}

pub fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
