//! The HTTP surface: routes, the API key check, CORS, the body limit, and JSON answers for
//! unknown routes, wrong methods and panics, so a client only ever reads OpenAI error objects.

use std::any::Any;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, Any as AnyOrigin, CorsLayer};

use crate::catalog;
use crate::error::{ApiError, ErrorKind, ServerError};
use crate::state::AppState;

pub fn router(state: AppState) -> Result<Router, ServerError> {
    let cors = cors_layer(&state.config.cors_origins)?;
    let api = Router::new()
        .route("/v1/chat/completions", post(crate::chat::chat_completions))
        .route("/v1/models", get(list_models))
        .route("/v1/models/{*id}", get(get_model))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    let mut app = Router::new()
        .merge(api)
        .route("/health", get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(CatchPanicLayer::custom(panic_response));
    if let Some(cors) = cors {
        app = app.layer(cors);
    }
    Ok(app.with_state(state))
}

fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, ServerError> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::from(AnyOrigin)
    } else {
        let values = origins
            .iter()
            .map(|o| HeaderValue::from_str(o).map_err(|_| ServerError::CorsOrigin(o.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(values)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([header::RETRY_AFTER]),
    ))
}

/// `Authorization: Bearer <key>` when the server has a key.
async fn require_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(key) = state.config.api_key.as_deref() else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match given {
        Some(g) if same_secret(g.as_bytes(), key.as_bytes()) => next.run(req).await,
        Some(_) => unauthorized("the API key is wrong"),
        None => unauthorized(
            "this server needs an API key: send `Authorization: Bearer <key>` (the key it was started with)",
        ),
    }
}

/// Compares without stopping at the first difference, so timing does not reveal the key.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unauthorized(message: &str) -> Response {
    let mut r = ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorKind::Authentication,
        "invalid_api_key",
        message,
    )
    .into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

async fn list_models(State(state): State<AppState>) -> Response {
    let models = state.catalog.models();
    let loaded = state.worker.status().model;
    Json(catalog::list(&models, loaded.as_ref())).into_response()
}

async fn get_model(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let models = state.catalog.models();
    let loaded = state.worker.status().model;
    let list = catalog::list(&models, loaded.as_ref());
    match list.data.into_iter().find(|m| m.id == id) {
        Some(m) => Json(m).into_response(),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            "model_not_found",
            format!("the model `{id}` does not exist"),
        )
        .with_param("model")
        .into_response(),
    }
}

/// Unauthenticated: for scripts waiting for the server, and the app's status line.
async fn health(State(state): State<AppState>) -> Response {
    let status = state.worker.status();
    Json(serde_json::json!({
        "status": "ok",
        "state": status.state,
        "model": status.model.map(|m| m.name),
        "queued": status.queued,
    }))
    .into_response()
}

async fn not_found(req: Request) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorKind::NotFound,
        "unknown_url",
        format!("unknown URL: {} {}", req.method(), req.uri().path()),
    )
    .into_response()
}

async fn method_not_allowed(req: Request) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::InvalidRequest,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
    .into_response()
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::Server,
        "internal_error",
        format!("the server failed while answering: {detail}"),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }

    #[test]
    fn a_bad_cors_origin_is_refused() {
        assert!(cors_layer(&[]).unwrap().is_none());
        assert!(cors_layer(&["*".into()]).unwrap().is_some());
        assert!(matches!(
            cors_layer(&["http://a\nb".into()]),
            Err(ServerError::CorsOrigin(_))
        ));
    }
}
