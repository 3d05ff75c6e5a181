//! `stream: true`: server-sent `chat.completion.chunk`s. The first chunk carries the role, then
//! one chunk per piece of text, a last one with the finish reason (and, with
//! `stream_options.include_usage`, one more with empty choices and the usage), then
//! `data: [DONE]`.
//!
//! The response waits for the prompt to be built before it starts, so that a bad image or a
//! prompt past the context is still an HTTP error; a failure later arrives as an `error` event.
//! The job lives in the body stream: when the client disconnects, the server drops the stream
//! and the job is cancelled.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_core::Stream;
use smolvlm_openai as oai;

use crate::answer::{Answer, Ending, Meta, Step};
use crate::error::ApiError;
use crate::job::RunningJob;

/// Comments between chunks while images encode, so proxies keep the connection.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

pub async fn respond(
    mut job: RunningJob,
    mut answer: Answer,
    meta: Meta,
    include_usage: bool,
) -> Result<Response, ApiError> {
    let mut early = Vec::new();
    loop {
        let steps = match job.events.recv().await {
            Some(event) => answer.on_event(event),
            None => vec![answer.lost()],
        };
        let mut ready = false;
        for step in steps {
            match step {
                Step::Failed(e) => return Err(e),
                Step::Prompt => ready = true,
                other => early.push(other),
            }
        }
        if ready || answer.is_over() {
            break;
        }
    }
    let mut stream = ChunkStream {
        job,
        answer,
        meta,
        include_usage,
        queue: VecDeque::new(),
        finished: false,
    };
    stream.push_chunk(
        vec![oai::ChunkChoice {
            index: 0,
            delta: oai::Delta {
                role: Some(oai::Role::Assistant),
                content: Some(String::new()),
            },
            finish_reason: None,
        }],
        None,
    );
    for step in early {
        stream.push_step(step);
    }
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

struct ChunkStream {
    job: RunningJob,
    answer: Answer,
    meta: Meta,
    include_usage: bool,
    queue: VecDeque<Event>,
    finished: bool,
}

impl ChunkStream {
    fn chunk(
        &self,
        choices: Vec<oai::ChunkChoice>,
        extra: Option<oai::SmolvlmExtra>,
    ) -> oai::ChatCompletionChunk {
        oai::ChatCompletionChunk {
            id: self.meta.id.clone(),
            object: oai::CHAT_COMPLETION_CHUNK.into(),
            created: self.meta.created,
            model: self.meta.model.clone(),
            choices,
            // OpenAI sends `usage: null` in every chunk but the last when usage is asked for.
            usage: self.include_usage.then_some(None),
            smolvlm: extra,
        }
    }

    fn push_json(&mut self, value: &impl serde::Serialize) {
        match Event::default().json_data(value) {
            Ok(event) => self.queue.push_back(event),
            // Our own types always serialize; should one not, the client sees the stream end.
            Err(_) => self.finish(),
        }
    }

    fn push_chunk(&mut self, choices: Vec<oai::ChunkChoice>, extra: Option<oai::SmolvlmExtra>) {
        let chunk = self.chunk(choices, extra);
        self.push_json(&chunk);
    }

    fn push_step(&mut self, step: Step) {
        match step {
            Step::Prompt => {}
            Step::Delta { content, token_ids } => self.push_chunk(
                vec![oai::ChunkChoice {
                    index: 0,
                    delta: oai::Delta {
                        role: None,
                        content: Some(content),
                    },
                    finish_reason: None,
                }],
                Some(oai::SmolvlmExtra {
                    token_ids,
                    ..Default::default()
                }),
            ),
            Step::End(end) => self.push_end(end),
            Step::Failed(e) => {
                self.push_json(&e.body());
                self.finish();
            }
        }
    }

    fn push_end(&mut self, end: Ending) {
        if end.by_stop_string {
            self.job.cancel();
        }
        let extra = oai::SmolvlmExtra {
            token_ids: end.unsent_ids,
            image_tokens: end.extra.image_tokens,
            timings: end.extra.timings,
        };
        self.push_chunk(
            vec![oai::ChunkChoice {
                index: 0,
                delta: oai::Delta::default(),
                finish_reason: Some(end.finish),
            }],
            Some(extra),
        );
        if self.include_usage {
            let mut chunk = self.chunk(Vec::new(), None);
            chunk.usage = Some(Some(end.usage));
            self.push_json(&chunk);
        }
        self.finish();
    }

    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.queue.push_back(Event::default().data("[DONE]"));
        }
    }
}

impl Stream for ChunkStream {
    type Item = Result<Event, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(event) = this.queue.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            let steps = match this.job.events.poll_recv(cx) {
                Poll::Ready(Some(event)) => this.answer.on_event(event),
                Poll::Ready(None) => vec![this.answer.lost()],
                Poll::Pending => return Poll::Pending,
            };
            for step in steps {
                this.push_step(step);
            }
        }
    }
}
