//! Answering the chat with a connection — an OpenAI-compatible server (vLLM serving SmolVLM,
//! `llama-server` with a GGUF pair, another machine's `smolvlm serve`) — instead of this
//! computer's model. Images go as data URLs; the answer streams into the same
//! [`StreamEvent`]s as a local one, so the chat and the recorder do not tell them apart.

use std::time::{Duration, Instant};

use smolvlm::{CancelToken, ContentPart, ImageSource, Message, Role, SamplingParams, StopReason};
use smolvlm_openai as openai;
use smolvlm_openai::{ChatCompletionRequest, Client, ClientError, Endpoint, FinishReason};

use crate::connections::Connection;
use crate::error::{AppError, AppResult};
use crate::events::{COALESCE_WINDOW, DoneTimings, StreamEvent};

/// The first read may wait for a CPU server to encode large images; a connection that takes
/// longer than this to open is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(600);

/// The request a connection gets for `conversation`. Images are read here (on the caller's
/// thread), so a missing or unreadable image is refused before anything is sent.
pub fn request(
    conn: &Connection,
    conversation: &[Message],
    params: &SamplingParams,
) -> AppResult<ChatCompletionRequest> {
    let mut messages = Vec::with_capacity(conversation.len());
    for m in conversation {
        let role = match m.role {
            Role::System => openai::Role::System,
            Role::User => openai::Role::User,
            Role::Assistant => openai::Role::Assistant,
        };
        let mut parts = Vec::with_capacity(m.content.len());
        for part in &m.content {
            parts.push(match part {
                ContentPart::Text(t) => openai::ContentPart::text(t.clone()),
                ContentPart::Image(src) => openai::ContentPart::image_url(data_url(src)?),
            });
        }
        messages.push(openai::ChatMessage::parts(role, parts));
    }
    Ok(ChatCompletionRequest {
        model: conn.model.clone(),
        messages,
        max_completion_tokens: u32::try_from(params.max_new_tokens).ok(),
        temperature: Some(params.temperature),
        top_p: params.top_p,
        seed: i64::try_from(params.seed).ok(),
        stream: true,
        stream_options: Some(openai::StreamOptions {
            include_usage: Some(true),
        }),
        ..ChatCompletionRequest::default()
    })
}

fn data_url(src: &ImageSource) -> AppResult<String> {
    let bytes: std::borrow::Cow<'_, [u8]> = match src {
        ImageSource::Path(p) => std::fs::read(p)
            .map_err(|e| AppError::storage(p, e))?
            .into(),
        ImageSource::Bytes { data, .. } => data.as_ref().into(),
    };
    openai::client::image_data_url(&bytes).ok_or_else(|| AppError::NotAnImage {
        path: src.display_name().into(),
        reason: "not a PNG, JPEG, WebP, GIF, BMP or TIFF file".into(),
    })
}

/// Streams answer `id` from `conn` on a thread of its own; every event goes to `emit`, ending
/// with `done` (cancelled when `cancel` trips) or `error`.
pub fn spawn(
    conn: Connection,
    req: ChatCompletionRequest,
    id: u64,
    cancel: CancelToken,
    emit: impl FnMut(StreamEvent) + Send + 'static,
) -> AppResult<()> {
    std::thread::Builder::new()
        .name("smolvlm-remote".into())
        .spawn(move || stream(&conn, &req, id, &cancel, emit))
        .map(drop)
        .map_err(|e| AppError::invalid(format!("cannot start the connection's thread: {e}")))
}

fn stream(
    conn: &Connection,
    req: &ChatCompletionRequest,
    id: u64,
    cancel: &CancelToken,
    mut emit: impl FnMut(StreamEvent),
) {
    let client = Client::with_timeouts(
        Endpoint {
            base_url: conn.base_url.clone(),
            api_key: conn.api_key.clone().filter(|k| !k.is_empty()),
            model: conn.model.clone(),
        },
        openai::Timeouts {
            connect: CONNECT_TIMEOUT,
            read: READ_TIMEOUT,
        },
    );
    let started = Instant::now();
    emit(StreamEvent::Started {
        generation_id: id,
        // Unknown until the server's usage arrives with the end.
        prompt_tokens: 0,
        image_tokens: 0,
        frames: 0,
        reused_tokens: 0,
    });
    let mut answer = Answer::new(started);
    let result = client.chat_stream(req, cancel, |chunk| answer.chunk(chunk, &mut emit));
    answer.flush(&mut emit);
    match result {
        Ok(()) => emit(answer.done(None)),
        Err(ClientError::Cancelled) => emit(answer.done(Some(StopReason::Cancelled))),
        Err(source) => emit(StreamEvent::Error(
            AppError::Remote {
                connection: conn.name.clone(),
                source,
            }
            .payload(),
        )),
    }
}

/// What has arrived of one streamed answer.
struct Answer {
    started: Instant,
    last_flush: Instant,
    first_token: Option<f64>,
    text: String,
    count: usize,
    generated: usize,
    finish: Option<FinishReason>,
    usage: Option<openai::Usage>,
}

impl Answer {
    fn new(started: Instant) -> Self {
        Self {
            started,
            last_flush: started,
            first_token: None,
            text: String::new(),
            count: 0,
            generated: 0,
            finish: None,
            usage: None,
        }
    }

    fn chunk(&mut self, chunk: openai::ChatCompletionChunk, emit: &mut impl FnMut(StreamEvent)) {
        if let Some(Some(usage)) = chunk.usage {
            self.usage = Some(usage);
        }
        // Servers that send token ids (smolvlm) count exactly; others count chunks.
        let ids = chunk.smolvlm.map(|x| x.token_ids.len());
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(reason) = choice.finish_reason {
                self.finish = Some(reason);
            }
            let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) else {
                continue;
            };
            let n = ids.unwrap_or(1).max(1);
            self.first_token
                .get_or_insert_with(|| self.started.elapsed().as_secs_f64());
            self.text.push_str(&text);
            self.count += n;
            self.generated += n;
        }
        if self.last_flush.elapsed() >= COALESCE_WINDOW {
            self.flush(emit);
        }
    }

    fn flush(&mut self, emit: &mut impl FnMut(StreamEvent)) {
        if self.count > 0 {
            emit(StreamEvent::Token {
                text: std::mem::take(&mut self.text),
                count: std::mem::take(&mut self.count),
            });
        }
        self.last_flush = Instant::now();
    }

    fn done(&self, stop: Option<StopReason>) -> StreamEvent {
        let total_s = self.started.elapsed().as_secs_f64();
        let generated = self
            .usage
            .as_ref()
            .map_or(self.generated, |u| u.completion_tokens as usize);
        let decode_s = self.first_token.map_or(0.0, |t| (total_s - t).max(0.0));
        StreamEvent::Done {
            stop_reason: stop.unwrap_or(match self.finish {
                Some(FinishReason::Length) => StopReason::Length,
                _ => StopReason::Eos,
            }),
            generated_tokens: generated,
            prompt_tokens: self.usage.as_ref().map_or(0, |u| u.prompt_tokens as usize),
            image_tokens: 0,
            timings: DoneTimings {
                vision_s: 0.0,
                prefill_s: self.first_token.unwrap_or(0.0),
                decode_s,
                decode_tokens_per_s: if decode_s > 0.0 && generated > 1 {
                    (generated - 1) as f64 / decode_s
                } else {
                    0.0
                },
                first_token_s: self.first_token,
                total_s,
            },
        }
    }
}
