//! A chat-completion request checked and turned into what the worker takes: the conversation
//! (images resolved), sampling parameters and stop strings. Everything that can be refused
//! without the model is refused here, before the request queues.

use std::hash::{BuildHasher, RandomState};

use axum::http::StatusCode;
use smolvlm::image::{MAX_IMAGE_SIZE, Resolution};
use smolvlm::{CancelToken, ContentPart, Message, Role, SamplingParams};
use smolvlm_openai as oai;

use crate::config::ServerConfig;
use crate::error::{ApiError, ErrorKind};
use crate::images::{self, ImageRef, PdfInput, Pending};
use crate::pdf;

/// OpenAI's limit on stop sequences.
const MAX_STOP: usize = 4;

/// OpenAI samples at temperature 1 unless told otherwise; so does this server, so that clients
/// written against OpenAI behave alike.
const DEFAULT_TEMPERATURE: f64 = 1.0;

#[derive(Debug)]
pub struct Prepared {
    pub conversation: Vec<Message>,
    /// Every image in prompt order, for mapping engine errors back to their field.
    pub images: Vec<ImageRef>,
    /// `http(s)` images still to fetch: message index, part index, URL, field.
    pub remote: Vec<(usize, usize, String, String)>,
    /// PDFs still to render: message index, part index, the PDF.
    pub pdfs: Vec<(usize, usize, PdfInput)>,
    pub params: SamplingParams,
    pub stop: Vec<String>,
    pub longest_edge: Option<u32>,
}

pub fn prepare(req: &oai::ChatCompletionRequest, cfg: &ServerConfig) -> Result<Prepared, ApiError> {
    if let Some(n) = req.n
        && n != 1
    {
        return Err(invalid(
            "n",
            format!("n must be 1 (got {n}): one answer per request"),
        ));
    }
    let temperature = req.temperature.unwrap_or(DEFAULT_TEMPERATURE);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(invalid(
            "temperature",
            format!("temperature must be between 0 and 2 (got {temperature})"),
        ));
    }
    if let Some(p) = req.top_p
        && !(p > 0.0 && p <= 1.0)
    {
        return Err(invalid(
            "top_p",
            format!("top_p must be in (0, 1] (got {p})"),
        ));
    }
    let max_param = if req.max_completion_tokens.is_some() {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    if req.max_new_tokens() == Some(0) {
        return Err(invalid(
            max_param,
            format!("{max_param} must be at least 1"),
        ));
    }
    let stop: Vec<String> = req.stop_strings();
    if stop.len() > MAX_STOP {
        return Err(invalid(
            "stop",
            format!("at most {MAX_STOP} stop sequences are allowed"),
        ));
    }
    if stop.iter().any(String::is_empty) {
        return Err(invalid("stop", "stop sequences must not be empty".into()));
    }
    if req.messages.is_empty() {
        return Err(invalid(
            "messages",
            "messages must hold at least one message".into(),
        ));
    }
    let mut conversation = Vec::with_capacity(req.messages.len());
    let mut refs = Vec::new();
    let mut remote = Vec::new();
    let mut pdfs = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let role = match m.role {
            oai::Role::System | oai::Role::Developer => Role::System,
            oai::Role::User => Role::User,
            oai::Role::Assistant => Role::Assistant,
        };
        let mut content = Vec::new();
        match &m.content {
            None => {}
            Some(oai::MessageContent::Text(t)) => content.push(ContentPart::Text(t.clone())),
            Some(oai::MessageContent::Parts(parts)) => {
                for (j, part) in parts.iter().enumerate() {
                    match part {
                        oai::ContentPart::Text { text } => {
                            content.push(ContentPart::Text(text.clone()))
                        }
                        oai::ContentPart::ImageUrl { image_url } => {
                            let param = format!("messages[{i}].content[{j}]");
                            match images::parse(&image_url.url, &param, cfg.allow_remote_images)? {
                                Pending::Ready(src) => {
                                    refs.push(ImageRef {
                                        param,
                                        name: images::engine_name(&src),
                                    });
                                    content.push(ContentPart::Image(src));
                                }
                                Pending::Remote(url) => {
                                    refs.push(ImageRef {
                                        param: param.clone(),
                                        name: param.clone(),
                                    });
                                    remote.push((i, content.len(), url, param));
                                    // Replaced once fetched.
                                    content.push(ContentPart::Text(String::new()));
                                }
                                Pending::Pdf(input) => {
                                    pdfs.push((i, content.len(), input));
                                    // Replaced by its pages once rendered.
                                    content.push(ContentPart::Text(String::new()));
                                }
                            }
                        }
                        oai::ContentPart::File { file } => {
                            let param = format!("messages[{i}].content[{j}]");
                            pdfs.push((i, content.len(), pdf::from_file_part(file, &param)?));
                            content.push(ContentPart::Text(String::new()));
                        }
                    }
                }
            }
        }
        conversation.push(Message { role, content });
    }
    let params = SamplingParams {
        max_new_tokens: req
            .max_new_tokens()
            .or(cfg.default_max_tokens)
            .map_or(usize::MAX, |n| n as usize),
        temperature,
        top_p: req.top_p,
        // Any 64 bits: OpenAI's seed is a signed integer, the sampler's an unsigned one.
        seed: req.seed.map_or_else(random_seed, |s| s as u64),
        ..SamplingParams::default()
    };
    Ok(Prepared {
        conversation,
        images: refs,
        remote,
        pdfs,
        params,
        stop,
        longest_edge: cfg.default_longest_edge,
    })
}

/// Fetches the `http(s)` images (off the async threads) into their places.
pub async fn fetch_remote(prepared: &mut Prepared, max_bytes: usize) -> Result<(), ApiError> {
    for (i, j, url, param) in std::mem::take(&mut prepared.remote) {
        let src =
            tokio::task::spawn_blocking(move || images::fetch_remote(&url, &param, max_bytes))
                .await
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        ErrorKind::Server,
                        "image_fetch_failed",
                        format!("fetching a remote image failed: {e}"),
                    )
                })??;
        if let Some(slot) = prepared
            .conversation
            .get_mut(i)
            .and_then(|m| m.content.get_mut(j))
        {
            *slot = ContentPart::Image(src);
        }
    }
    Ok(())
}

/// Cancels the renders when the request goes away before they end.
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Renders every PDF of `prepared` into its place in the conversation, each chosen page an
/// image named `file.pdf#page=N`, and sets the request's longest edge to the one the pages
/// were drawn at.
pub async fn render_pdfs(prepared: &mut Prepared, target: pdf::Target) -> Result<(), ApiError> {
    let pdfs = std::mem::take(&mut prepared.pdfs);
    if pdfs.is_empty() {
        return Ok(());
    }
    let edge = prepared
        .longest_edge
        .unwrap_or_else(|| Resolution::Document.longest_edge(&target.processor))
        .clamp(1, MAX_IMAGE_SIZE);
    prepared.longest_edge = Some(edge);
    let guard = CancelOnDrop(CancelToken::new());
    // Last first: splicing a PDF's pages in shifts only the parts after it.
    for (i, j, input) in pdfs.into_iter().rev() {
        let (cancel, target) = (guard.0.clone(), target.clone());
        let param = input.param.clone();
        let pages =
            tokio::task::spawn_blocking(move || pdf::render(&input, edge, &target, &cancel))
                .await
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        ErrorKind::Server,
                        "pdf_render_failed",
                        format!("rendering a PDF failed: {e}"),
                    )
                    .with_param(param.clone())
                })??;
        prepared.images.extend(pages.iter().map(|src| ImageRef {
            param: param.clone(),
            name: images::engine_name(src),
        }));
        if let Some(message) = prepared.conversation.get_mut(i) {
            let at = j.min(message.content.len());
            let end = (at + 1).min(message.content.len());
            message
                .content
                .splice(at..end, pages.into_iter().map(ContentPart::Image));
        }
    }
    Ok(())
}

/// Whether the conversation holds any image (a PDF's pages are images).
pub fn has_images(prepared: &Prepared) -> bool {
    !prepared.images.is_empty() || !prepared.pdfs.is_empty()
}

fn invalid(param: &str, message: String) -> ApiError {
    ApiError::invalid("invalid_value", message).with_param(param)
}

/// A seed for a request that gives none: OpenAI's answers then differ from call to call.
fn random_seed() -> u64 {
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use smolvlm::ImageSource;

    fn images_of(m: &Message) -> Vec<&ImageSource> {
        m.images().collect()
    }

    fn req(json: serde_json::Value) -> oai::ChatCompletionRequest {
        serde_json::from_value(json).unwrap()
    }

    fn err_param(json: serde_json::Value) -> String {
        prepare(&req(json), &ServerConfig::default())
            .unwrap_err()
            .param
            .unwrap_or_default()
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let m = serde_json::json!([{"role": "user", "content": "hi"}]);
        assert_eq!(err_param(serde_json::json!({"messages": m, "n": 2})), "n");
        assert_eq!(
            err_param(serde_json::json!({"messages": m, "temperature": 3})),
            "temperature"
        );
        assert_eq!(
            err_param(serde_json::json!({"messages": m, "top_p": 0})),
            "top_p"
        );
        assert_eq!(
            err_param(serde_json::json!({"messages": m, "max_tokens": 0})),
            "max_tokens"
        );
        assert_eq!(
            err_param(serde_json::json!({"messages": m, "max_completion_tokens": 0})),
            "max_completion_tokens"
        );
        assert_eq!(
            err_param(serde_json::json!({"messages": m, "stop": ["a","b","c","d","e"]})),
            "stop"
        );
        assert_eq!(
            err_param(serde_json::json!({"messages": m, "stop": ""})),
            "stop"
        );
        assert_eq!(err_param(serde_json::json!({"messages": []})), "messages");
    }

    #[test]
    fn messages_become_the_engine_s_conversation() {
        let r = req(serde_json::json!({
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGk="}},
                    {"type": "text", "text": "What?"}
                ]},
                {"role": "assistant", "content": null}
            ],
            "max_tokens": 5, "temperature": 0, "seed": -1
        }));
        let p = prepare(&r, &ServerConfig::default()).unwrap();
        assert_eq!(p.conversation.len(), 3);
        assert_eq!(p.conversation[0].role, Role::System);
        assert_eq!(images_of(&p.conversation[1]).len(), 1);
        assert!(p.conversation[2].content.is_empty());
        assert_eq!(p.images[0].param, "messages[1].content[0]");
        assert_eq!(p.params.max_new_tokens, 5);
        assert_eq!(p.params.temperature, 0.0);
        assert_eq!(p.params.seed, u64::MAX);
        assert!(has_images(&p));
    }
}
