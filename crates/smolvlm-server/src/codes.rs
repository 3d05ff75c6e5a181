//! The one table from the worker's and engine's error codes to HTTP: status, OpenAI error type,
//! and the code the client sees. Every code `WorkerError::code` can return is listed; anything
//! new falls to a 500 until it is placed here.

use axum::http::StatusCode;
use smolvlm_worker::WorkerError;

use crate::error::{ApiError, ErrorKind};

/// Seconds a client told 429 should wait: about one short answer of a small model.
pub const RETRY_AFTER_S: u32 = 1;

/// `(status, type, code sent)` for an engine or worker code.
pub fn classify(code: &str) -> (StatusCode, ErrorKind, &str) {
    use ErrorKind::*;
    const BAD: StatusCode = StatusCode::BAD_REQUEST;
    match code {
        // The request asks for something the loaded model cannot give.
        "no_model_loaded" => (BAD, InvalidRequest, code),
        "prompt_too_long" => (BAD, InvalidRequest, "context_length_exceeded"),
        "no_vision_encoder" => (BAD, InvalidRequest, code),
        "invalid_request" | "invalid_setting" | "invalid_messages" => (BAD, InvalidRequest, code),
        // A literal `<image>` in the text, or a template refusing the conversation's shape
        // (roles out of order): the request's doing.
        "image_count_mismatch" | "template_raised" => (BAD, InvalidRequest, code),
        // The conversation made the model's template run past its fuel, output or nesting
        // limits: a smaller conversation renders.
        "template_limit" => (BAD, InvalidRequest, code),
        // The request's images.
        "image_unreadable"
        | "image_file_too_large"
        | "image_unknown_format"
        | "image_truncated"
        | "image_corrupt"
        | "image_zero_sized"
        | "image_too_large"
        | "image_unsupported" => (BAD, InvalidRequest, code),
        "queue_full" => (StatusCode::TOO_MANY_REQUESTS, RateLimit, code),
        "worker_unavailable" => (StatusCode::SERVICE_UNAVAILABLE, Server, code),
        // The model's files, the device, or the worker itself: nothing the client can fix.
        "worker_panicked"
        | "io"
        | "missing_model_file"
        | "malformed_model_file"
        | "unsupported_model"
        | "not_supported_yet"
        | "device"
        | "compute"
        | "tokenizer"
        | "missing_file"
        | "malformed_file"
        | "template_syntax"
        | "template_render" => (StatusCode::INTERNAL_SERVER_ERROR, Server, code),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, Server, code),
    }
}

/// The client's view of a worker failure; `param` names the request field at fault when known.
pub fn worker_error(e: &WorkerError, param: Option<String>) -> ApiError {
    let (status, kind, code) = classify(e.code());
    let mut err = ApiError::new(status, kind, code, e.to_string());
    err.param = param;
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        err.retry_after = Some(RETRY_AFTER_S);
    }
    if err.param.is_none() && matches!(code, "context_length_exceeded" | "no_vision_encoder") {
        err.param = Some("messages".into());
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_faults_are_400_and_the_model_s_are_500() {
        assert_eq!(classify("image_too_large").0, StatusCode::BAD_REQUEST);
        assert_eq!(
            classify("prompt_too_long"),
            (
                StatusCode::BAD_REQUEST,
                ErrorKind::InvalidRequest,
                "context_length_exceeded"
            )
        );
        assert_eq!(
            classify("malformed_model_file").0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(classify("something_new").1, ErrorKind::Server);
    }

    #[test]
    fn a_full_queue_says_when_to_come_back() {
        let e = worker_error(&WorkerError::QueueFull { capacity: 2 }, None);
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.retry_after, Some(RETRY_AFTER_S));
        assert_eq!(e.kind.as_str(), "rate_limit_error");
        let e = worker_error(&WorkerError::NoModel, None);
        assert_eq!(
            (e.status, e.code.as_deref()),
            (StatusCode::BAD_REQUEST, Some("no_model_loaded"))
        );
    }
}
