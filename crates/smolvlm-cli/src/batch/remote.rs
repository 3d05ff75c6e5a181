//! Answering through a remote OpenAI-compatible server: each image goes as a `data:` URL in a
//! fresh single-turn chat completion; a PDF's chosen pages go as PNG `data:` URLs, rendered
//! here (the server's model processor is unknown: at `REMOTE_PDF_EDGE`).

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use smolvlm::CancelToken;
use smolvlm_openai::client::image_data_url;
use smolvlm_openai::{
    ChatCompletion, ChatCompletionRequest, ChatMessage, Client, ClientError, ContentPart, Endpoint,
    FinishReason, Role,
};

use super::record::{Answer, FileError, RecordError};
use super::{Answerer, BatchError};
use crate::CliError;
use crate::generate::SamplingArgs;
use smolvlm_pdf::PageList;

/// The longest edge PDF pages are rendered at for a server: SmolVLM's usual processor edge
/// (4 × 512), which a server's processor resizes to its own.
const REMOTE_PDF_EDGE: u32 = 2048;

/// How often an interrupt is looked at while a request is in flight.
const CANCEL_POLL: Duration = Duration::from_millis(100);

pub struct Remote {
    client: Arc<Client>,
    prompt: String,
    max_tokens: u32,
    temperature: f64,
    top_p: Option<f64>,
    seed: i64,
    pages: PageList,
}

impl Remote {
    /// Without `model`, asks the server for its list and takes the model it says is loaded,
    /// else its first; a server that cannot list leaves the name empty (smolvlm's own server
    /// then uses its loaded model) and each file records what went wrong.
    pub fn new(
        url: &str,
        api_key: Option<String>,
        model: Option<String>,
        prompt: &str,
        sampling: &SamplingArgs,
        pages: PageList,
        mut warn: impl FnMut(String),
    ) -> Result<Self, BatchError> {
        let max_tokens = u32::try_from(sampling.max_new_tokens).map_err(|_| {
            BatchError::Usage("--max-new-tokens is too large for the OpenAI API".into())
        })?;
        let seed = i64::try_from(sampling.seed)
            .map_err(|_| BatchError::Usage("--seed is too large for the OpenAI API".into()))?;
        let mut client = Client::new(Endpoint {
            base_url: url.to_string(),
            api_key: api_key.clone(),
            model: model.clone().unwrap_or_default(),
        });
        if model.is_none() {
            match client.models() {
                Ok(list) => {
                    let chosen = list.data.iter().find(|m| m.loaded).or(list.data.first());
                    if let Some(m) = chosen {
                        client = Client::new(Endpoint {
                            base_url: url.to_string(),
                            api_key,
                            model: m.id.clone(),
                        });
                    }
                }
                Err(e) => warn(format!(
                    "cannot list the endpoint's models ({e}); asking without a model name"
                )),
            }
        }
        Ok(Self {
            client: Arc::new(client),
            prompt: prompt.to_string(),
            max_tokens,
            temperature: sampling.temperature,
            top_p: sampling.top_p,
            seed,
            pages,
        })
    }

    fn request(&self, data_urls: Vec<String>) -> ChatCompletionRequest {
        // Images first, then the question: the order `generate` builds its turn in.
        let mut parts: Vec<ContentPart> =
            data_urls.into_iter().map(ContentPart::image_url).collect();
        parts.push(ContentPart::text(&self.prompt));
        ChatCompletionRequest {
            messages: vec![ChatMessage::parts(Role::User, parts)],
            // The older name: every OpenAI-compatible server reads it, not all the newer one.
            max_tokens: Some(self.max_tokens),
            temperature: Some(self.temperature),
            top_p: self.top_p,
            seed: Some(self.seed),
            ..Default::default()
        }
    }
}

impl Answerer for Remote {
    fn answer(&mut self, file: &Path, cancel: &CancelToken) -> Result<Answer, FileError> {
        if smolvlm_pdf::is_pdf_file(file) {
            let pages = crate::pages::render_pages(file, &self.pages, REMOTE_PDF_EDGE, cancel)
                .map_err(|e| match e {
                    CliError::Pdf {
                        error: smolvlm_pdf::PdfError::Cancelled { .. },
                        ..
                    } => FileError::Cancelled,
                    e => RecordError::new(e.code(), e.to_string()).into(),
                })?;
            let urls = pages
                .iter()
                .filter_map(|(_, png)| image_data_url(png))
                .collect();
            let completion = self.send(self.request(urls), cancel)?;
            return answer_of(completion).map_err(FileError::Failed);
        }
        // Decoded here first, as the local engine would: a bad file gets the same error code
        // whichever answers, and costs no request.
        smolvlm::image::load_image_file(file, &smolvlm::image::ImageLimits::default())
            .map_err(|e| RecordError::new(e.code(), e.to_string()))?;
        let bytes = std::fs::read(file).map_err(|e| {
            RecordError::new(
                "image_unreadable",
                format!("cannot read {}: {e}", file.display()),
            )
        })?;
        let url = image_data_url(&bytes).ok_or_else(|| {
            RecordError::new(
                "image_unknown_format",
                format!("{} is not a format a data URL can name", file.display()),
            )
        })?;
        let completion = self.send(self.request(vec![url]), cancel)?;
        answer_of(completion).map_err(FileError::Failed)
    }
}

impl Remote {
    /// The request runs on its own thread so that an interrupt need not wait for a slow server:
    /// the answer, if it still comes, is dropped with the thread at exit.
    fn send(
        &self,
        req: ChatCompletionRequest,
        cancel: &CancelToken,
    ) -> Result<ChatCompletion, FileError> {
        let (tx, rx) = mpsc::channel();
        let client = Arc::clone(&self.client);
        std::thread::spawn(move || {
            let _ = tx.send(client.chat(&req));
        });
        loop {
            if cancel.is_cancelled() {
                return Err(FileError::Cancelled);
            }
            match rx.recv_timeout(CANCEL_POLL) {
                Ok(result) => return result.map_err(|e| client_error(&e)),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(RecordError::new("protocol", "the request thread ended").into());
                }
            }
        }
    }
}

fn client_error(e: &ClientError) -> FileError {
    match e {
        ClientError::Cancelled => FileError::Cancelled,
        e => RecordError::new(e.code(), e.to_string()).into(),
    }
}

fn answer_of(c: ChatCompletion) -> Result<Answer, RecordError> {
    let choice = c
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| RecordError::new("protocol", "the server's answer has no choices"))?;
    let extra = c.smolvlm.unwrap_or_default();
    let tokens = match &c.usage {
        Some(u) => u.completion_tokens as usize,
        None => extra.token_ids.len(),
    };
    Ok(Answer {
        text: choice.message.content.unwrap_or_default(),
        tokens,
        token_ids: (!extra.token_ids.is_empty()).then_some(extra.token_ids),
        image_tokens: extra.image_tokens.map(|n| n as usize),
        prompt_tokens: c.usage.map(|u| u.prompt_tokens as usize),
        stop_reason: choice.finish_reason.map(|r| {
            match r {
                FinishReason::Stop => "eos",
                FinishReason::Length => "length",
            }
            .to_string()
        }),
        timings: extra.timings.and_then(|t| serde_json::to_value(t).ok()),
    })
}
