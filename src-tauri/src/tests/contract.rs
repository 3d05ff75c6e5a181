//! The IPC contract: the stream's and errors' JSON, the generated bindings and the command list.

use serde_json::json;
use smolvlm::StopReason;

use super::harness::*;
use crate::error::{AppError, ErrorPayload};
use crate::events::{DoneTimings, StreamEvent};

#[test]
fn stream_event_json_is_pinned() {
    let events = [
        StreamEvent::Started {
            generation_id: 7,
            prompt_tokens: 120,
            image_tokens: 64,
            frames: 1,
            reused_tokens: 0,
        },
        StreamEvent::ImageProgress {
            frames_done: 1,
            frames_total: 5,
        },
        StreamEvent::Token {
            text: "Hi <b>".into(),
            count: 2,
        },
        StreamEvent::Done {
            stop_reason: StopReason::Cancelled,
            generated_tokens: 2,
            prompt_tokens: 120,
            image_tokens: 64,
            timings: DoneTimings {
                vision_s: 0.5,
                prefill_s: 0.25,
                decode_s: 1.0,
                decode_tokens_per_s: 2.0,
                first_token_s: Some(0.75),
                total_s: 1.75,
            },
        },
        StreamEvent::Error(ErrorPayload {
            code: "busy".into(),
            message: "m".into(),
        }),
    ];
    let json: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    assert_eq!(
        json,
        [
            r#"{"type":"started","generationId":7,"promptTokens":120,"imageTokens":64,"frames":1,"reusedTokens":0}"#,
            r#"{"type":"image-progress","framesDone":1,"framesTotal":5}"#,
            r#"{"type":"token","text":"Hi <b>","count":2}"#,
            r#"{"type":"done","stopReason":"cancelled","generatedTokens":2,"promptTokens":120,"imageTokens":64,"timings":{"visionS":0.5,"prefillS":0.25,"decodeS":1.0,"decodeTokensPerS":2.0,"firstTokenS":0.75,"totalS":1.75}}"#,
            r#"{"type":"error","code":"busy","message":"m"}"#,
        ]
    );
}

#[test]
fn errors_serialize_as_code_and_message() {
    let e = AppError::Busy(3);
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"code": "busy", "message": e.to_string()})
    );
    let e = AppError::from(smolvlm::Error::NoVision);
    assert_eq!(
        serde_json::to_value(&e).unwrap()["code"],
        "no_vision_encoder"
    );
}

/// The commands the generated bindings invoke, in their order.
fn bound_commands(bindings: &str) -> Vec<String> {
    // `__TAURI_INVOKE<Result>("name", …)`
    bindings
        .split("__TAURI_INVOKE<")
        .skip(1)
        .map(|rest| {
            let name = &rest[rest.find(">(\"").unwrap() + 3..];
            name[..name.find('"').unwrap()].to_string()
        })
        .collect()
}

/// `ui/src/bindings.ts` is what the Rust commands and types generate. On a difference, rerun
/// with `UPDATE_BINDINGS=1` to rewrite it (and commit it).
#[test]
fn bindings_are_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let fresh_path = dir.path().join("bindings.ts");
    crate::ipc::export_bindings(&fresh_path).unwrap();
    let fresh = std::fs::read_to_string(&fresh_path).unwrap();
    let committed_path = repo().join(crate::ipc::BINDINGS);
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    if fresh == committed {
        return;
    }
    if std::env::var_os("UPDATE_BINDINGS").is_some_and(|v| v != "0") {
        std::fs::write(&committed_path, &fresh).unwrap();
        eprintln!("rewrote {}", committed_path.display());
        return;
    }
    panic!(
        "{} is out of date with the Rust commands and types; regenerate it with\n\n    \
         UPDATE_BINDINGS=1 cargo test -p smolvlm-desktop -- bindings\n\nand commit it",
        crate::ipc::BINDINGS
    );
}

/// Every command of the bindings (and the raw ones) is registered, each once; unknown ones are
/// not.
#[test]
fn every_bound_command_is_registered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bindings.ts");
    crate::ipc::export_bindings(&path).unwrap();
    let bindings = std::fs::read_to_string(&path).unwrap();
    let mut commands = bound_commands(&bindings);
    assert!(commands.len() >= 20, "{commands:?}");
    commands.extend(crate::ipc::RAW_COMMANDS.iter().map(|c| c.to_string()));
    let mut unique = commands.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), commands.len(), "{commands:?}");

    let h = Harness::new(&dir.path().join("app"));
    for cmd in &commands {
        if let Err(e) = h.invoke(cmd, json!({})) {
            assert!(
                !e.to_string().contains("not found") || e["code"].is_string(),
                "{cmd}: {e}"
            );
        }
    }
    let unknown = h.invoke("no_such_command", json!({})).unwrap_err();
    assert!(unknown.to_string().contains("not found"), "{unknown}");
}

/// The TypeScript mirrors of the engine's and hub's types serialize as those types do.
#[test]
fn foreign_mirrors_match_their_types() {
    use crate::foreign;
    fn same<A: serde::Serialize, B: serde::Serialize>(pairs: &[(A, B)]) {
        for (real, mirror) in pairs {
            assert_eq!(
                serde_json::to_value(real).unwrap(),
                serde_json::to_value(mirror).unwrap()
            );
        }
    }
    use smolvlm::image::Resolution;
    same(&[
        (Resolution::Fast, foreign::Resolution::Fast),
        (Resolution::Standard, foreign::Resolution::Standard),
        (Resolution::Document, foreign::Resolution::Document),
    ]);
    same(&[
        (smolvlm::Role::System, foreign::Role::System),
        (smolvlm::Role::User, foreign::Role::User),
        (smolvlm::Role::Assistant, foreign::Role::Assistant),
    ]);
    same(&[
        (smolvlm::StopReason::Eos, foreign::StopReason::Eos),
        (smolvlm::StopReason::Length, foreign::StopReason::Length),
        (
            smolvlm::StopReason::Cancelled,
            foreign::StopReason::Cancelled,
        ),
    ]);
    same(&[
        (
            smolvlm::DevicePreference::Auto,
            foreign::DevicePreference::Auto,
        ),
        (
            smolvlm::DevicePreference::Cpu,
            foreign::DevicePreference::Cpu,
        ),
        (
            smolvlm::DevicePreference::Cuda,
            foreign::DevicePreference::Cuda,
        ),
        (
            smolvlm::DevicePreference::Metal,
            foreign::DevicePreference::Metal,
        ),
    ]);
    use smolvlm_hub::catalog::Format;
    same(&[
        (Format::Safetensors, foreign::ModelFormat::Safetensors),
        (Format::Gguf, foreign::ModelFormat::Gguf),
    ]);
    // Every variant is covered: an exhaustive match breaks when one is added.
    match smolvlm::Role::System {
        smolvlm::Role::System | smolvlm::Role::User | smolvlm::Role::Assistant => {}
    }
    match smolvlm::StopReason::Eos {
        smolvlm::StopReason::Eos | smolvlm::StopReason::Length | smolvlm::StopReason::Cancelled => {
        }
    }
    match smolvlm::DevicePreference::Auto {
        smolvlm::DevicePreference::Auto
        | smolvlm::DevicePreference::Cpu
        | smolvlm::DevicePreference::Cuda
        | smolvlm::DevicePreference::Metal => {}
    }
    match Format::Gguf {
        Format::Safetensors | Format::Gguf => {}
    }
}
