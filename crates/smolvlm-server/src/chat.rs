//! `POST /v1/chat/completions`: parse and check the request, pick the model, queue the job, then
//! answer whole ([`complete`]) or streamed ([`crate::stream`]).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use smolvlm_openai as oai;

use crate::answer::{Answer, Meta, Step};
use crate::catalog;
use crate::error::{ApiError, ErrorKind};
use crate::job::{self, RunningJob};
use crate::request;
use crate::state::AppState;

pub async fn chat_completions(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(state, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(
    state: AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| body_error(&e, state.config.max_body_bytes))?;
    let req = parse_body(&body)?;
    let models = state.catalog.models();
    let loaded = state.worker.status().model;
    let choice = catalog::choose(
        &req.model,
        &models,
        loaded.as_ref(),
        &state.config.load_options,
    )?;
    let mut prepared = request::prepare(&req, &state.config)?;
    if choice.model.is_none()
        && request::has_images(&prepared)
        && state.worker.image_geometry().is_some_and(|g| !g.has_vision)
    {
        return Err(crate::codes::worker_error(
            &smolvlm_worker::WorkerError::Engine(smolvlm::Error::NoVision),
            None,
        ));
    }
    request::fetch_remote(&mut prepared, state.config.max_body_bytes).await?;
    let preset = state
        .config
        .resolution
        .filter(|_| prepared.longest_edge.is_none());
    if !prepared.pdfs.is_empty() || (preset.is_some() && request::has_images(&prepared)) {
        let target = image_target(&state, choice.model.as_ref()).await?;
        if let Some(r) = preset {
            prepared.longest_edge = Some(r.longest_edge(&target.processor));
        }
        request::render_pdfs(&mut prepared, target).await?;
    }
    let answer = Answer::new(prepared.stop.clone(), prepared.images.clone());
    let job = job::submit(&state.worker, &state.active, choice.model, prepared)?;
    let meta = Meta {
        id: format!("chatcmpl-{}-{}", unix_now(), job.id),
        created: unix_now(),
        model: choice.id,
    };
    if req.stream {
        crate::stream::respond(job, answer, meta, req.include_usage()).await
    } else {
        complete(job, answer, meta).await
    }
}

/// The image settings of the model that will answer (for a resolution preset and PDF pages):
/// the loaded one's, or those in the files of the one the request names (its context is then
/// unknown until it loads).
async fn image_target(
    state: &AppState,
    named: Option<&smolvlm_worker::ModelChoice>,
) -> Result<crate::pdf::Target, ApiError> {
    let loaded = state.worker.status().model;
    let other = named.filter(|m| loaded.as_ref().is_none_or(|l| l.path != m.path));
    if let Some(m) = other.cloned() {
        let cfg = tokio::task::spawn_blocking(move || {
            smolvlm::SmolVlmModel::processor_config_of(&m.path, &m.options)
        })
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorKind::Server,
                "worker_unavailable",
                format!("reading the model's image settings failed: {e}"),
            )
        })?
        .map_err(|e| crate::codes::worker_error(&smolvlm_worker::WorkerError::Engine(e), None))?;
        return Ok(crate::pdf::Target {
            processor: cfg,
            context_length: None,
        });
    }
    let Some(g) = state.worker.image_geometry() else {
        return Err(crate::codes::worker_error(
            &smolvlm_worker::WorkerError::NoModel,
            None,
        ));
    };
    if !g.has_vision {
        return Err(crate::codes::worker_error(
            &smolvlm_worker::WorkerError::Engine(smolvlm::Error::NoVision),
            None,
        ));
    }
    Ok(crate::pdf::Target {
        processor: g.processor.config().clone(),
        context_length: Some(g.context_length),
    })
}

/// Waits for the whole answer. The handler's future owns the job: if the client goes away,
/// the server drops the future and the job is cancelled with it.
async fn complete(
    mut job: RunningJob,
    mut answer: Answer,
    meta: Meta,
) -> Result<Response, ApiError> {
    let mut content = String::new();
    loop {
        let steps = match job.events.recv().await {
            Some(event) => answer.on_event(event),
            None => vec![answer.lost()],
        };
        for step in steps {
            match step {
                Step::Prompt => {}
                Step::Delta { content: c, .. } => content.push_str(&c),
                Step::Failed(e) => return Err(e),
                Step::End(end) => {
                    if end.by_stop_string {
                        job.cancel();
                    }
                    let completion = oai::ChatCompletion {
                        id: meta.id,
                        object: oai::CHAT_COMPLETION.into(),
                        created: meta.created,
                        model: meta.model,
                        choices: vec![oai::Choice {
                            index: 0,
                            message: oai::AssistantMessage {
                                role: oai::Role::Assistant,
                                content: Some(content),
                            },
                            finish_reason: Some(end.finish),
                        }],
                        usage: Some(end.usage),
                        smolvlm: Some(end.extra),
                    };
                    return Ok(Json(completion).into_response());
                }
            }
        }
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn body_error(e: &BytesRejection, max: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::InvalidRequest,
            "request_too_large",
            format!("the request body is larger than {max} bytes"),
        )
    } else {
        ApiError::invalid(
            "invalid_body",
            format!("cannot read the request body: {}", e.body_text()),
        )
    }
}

/// The body as a chat completion request: the JSON half of what [`crate::check_chat_request`]
/// checks.
pub(crate) fn parse_body(body: &[u8]) -> Result<oai::ChatCompletionRequest, ApiError> {
    serde_json::from_slice(body).map_err(json_error)
}

fn json_error(e: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let code = match e.classify() {
        Category::Data => "invalid_request",
        Category::Syntax | Category::Eof | Category::Io => "invalid_json",
    };
    ApiError::invalid(
        code,
        format!("the request body is not a valid chat completion request: {e}"),
    )
}
