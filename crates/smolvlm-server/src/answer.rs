//! A job's events turned into what an OpenAI answer is made of: text deltas with their token
//! ids (stop strings applied), then one ending with the finish reason, usage and timings. Shared
//! by the streamed and the whole answer, so both report the same.

use std::time::Instant;

use smolvlm::{GenerationEvent, GenerationSummary, StopReason};
use smolvlm_openai::{ExtraTimings, FinishReason, PromptTokensDetails, SmolvlmExtra, Usage};
use smolvlm_worker::{JobEvent, WorkerError};

use crate::codes;
use crate::error::ApiError;
use crate::images::{self, ImageRef};
use crate::stop::StopMatcher;

/// What every chunk or completion of one answer repeats.
#[derive(Debug, Clone)]
pub struct Meta {
    pub id: String,
    pub created: u64,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The prompt is built: the answer will come (errors about the request are past).
    Prompt,
    /// Text to send, with the ids of the tokens it completes (and any before it that showed no
    /// text).
    Delta {
        content: String,
        token_ids: Vec<u32>,
    },
    End(Ending),
    Failed(ApiError),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    pub finish: FinishReason,
    /// A stop string ended the answer: the job must be cancelled.
    pub by_stop_string: bool,
    pub usage: Usage,
    /// All the answer's token ids and its timings.
    pub extra: SmolvlmExtra,
    /// Ids not yet sent in a delta (a stream's last chunk carries them).
    pub unsent_ids: Vec<u32>,
}

pub struct Answer {
    stop: StopMatcher,
    images: Vec<ImageRef>,
    /// Every generated id, and how many went out in deltas.
    ids: Vec<u32>,
    sent_ids: usize,
    /// The engine's text so far (before stop strings).
    raw: String,
    prompt_tokens: usize,
    image_tokens: usize,
    reused_tokens: usize,
    started: Option<Instant>,
    first_token_s: Option<f64>,
    over: bool,
}

impl Answer {
    pub fn new(stop: Vec<String>, images: Vec<ImageRef>) -> Self {
        Self {
            stop: StopMatcher::new(stop),
            images,
            ids: Vec::new(),
            sent_ids: 0,
            raw: String::new(),
            prompt_tokens: 0,
            image_tokens: 0,
            reused_tokens: 0,
            started: None,
            first_token_s: None,
            over: false,
        }
    }

    /// Whether the answer has ended (an `End` or `Failed` step went out).
    pub fn is_over(&self) -> bool {
        self.over
    }

    pub fn on_event(&mut self, event: JobEvent) -> Vec<Step> {
        if self.over {
            return Vec::new();
        }
        match event {
            JobEvent::Started { .. } => {
                self.started = Some(Instant::now());
                Vec::new()
            }
            JobEvent::Failed(e) => {
                self.over = true;
                vec![Step::Failed(self.error(&e))]
            }
            JobEvent::Engine(GenerationEvent::Prompt {
                prompt_tokens,
                image_tokens,
                reused_tokens,
                ..
            }) => {
                self.prompt_tokens = prompt_tokens;
                self.image_tokens = image_tokens;
                self.reused_tokens = reused_tokens;
                vec![Step::Prompt]
            }
            JobEvent::Engine(GenerationEvent::ImageProgress { .. }) => Vec::new(),
            JobEvent::Engine(GenerationEvent::Token { id, text }) => {
                if self.first_token_s.is_none() {
                    self.first_token_s = self.started.map(|s| s.elapsed().as_secs_f64());
                }
                self.ids.push(id);
                self.raw.push_str(&text);
                let (content, stopped) = self.stop.push(&text);
                let mut steps = self.delta(content);
                if stopped {
                    steps.push(self.end(FinishReason::Stop, true, None));
                }
                steps
            }
            JobEvent::Engine(GenerationEvent::Done(summary)) => self.done(summary),
        }
    }

    /// The worker went away without ending the job.
    pub fn lost(&mut self) -> Step {
        self.over = true;
        Step::Failed(codes::worker_error(&WorkerError::Unavailable, None))
    }

    fn done(&mut self, summary: GenerationSummary) -> Vec<Step> {
        // The detokenizer's last bytes arrive only in the summary.
        let rest = summary
            .text
            .strip_prefix(self.raw.as_str())
            .unwrap_or_default()
            .to_string();
        // The summary's ids are the engine's own account; a stream that dropped none agrees.
        if summary.token_ids.starts_with(&self.ids) {
            self.ids = summary.token_ids.clone();
        }
        if summary.prompt_tokens > 0 {
            self.prompt_tokens = summary.prompt_tokens;
            self.image_tokens = summary.image_tokens;
        }
        let (mut content, stopped) = self.stop.push(&rest);
        if !stopped {
            content.push_str(&self.stop.finish());
        }
        let mut steps = self.delta(content);
        let finish = match summary.stop_reason {
            StopReason::Length if !stopped => FinishReason::Length,
            _ => FinishReason::Stop,
        };
        steps.push(self.end(finish, stopped, Some(&summary)));
        steps
    }

    fn delta(&mut self, content: String) -> Vec<Step> {
        if content.is_empty() {
            return Vec::new();
        }
        let token_ids = self.ids[self.sent_ids..].to_vec();
        self.sent_ids = self.ids.len();
        vec![Step::Delta { content, token_ids }]
    }

    fn end(
        &mut self,
        finish: FinishReason,
        by_stop_string: bool,
        summary: Option<&GenerationSummary>,
    ) -> Step {
        self.over = true;
        let completion = self.ids.len() as u32;
        let prompt = self.prompt_tokens as u32;
        let timings = summary.map(|s| ExtraTimings {
            vision_s: s.timings.vision_s,
            prefill_s: s.timings.prefill_s,
            decode_s: s.timings.decode_s,
            decode_tokens_per_s: s.timings.decode_tokens_per_s,
            first_token_s: self.first_token_s,
        });
        let unsent_ids = self.ids[self.sent_ids..].to_vec();
        self.sent_ids = self.ids.len();
        Step::End(Ending {
            finish,
            by_stop_string,
            usage: Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
                total_tokens: prompt + completion,
                prompt_tokens_details: Some(PromptTokensDetails {
                    cached_tokens: self.reused_tokens as u32,
                }),
            },
            extra: SmolvlmExtra {
                token_ids: self.ids.clone(),
                image_tokens: Some(self.image_tokens as u32),
                timings,
            },
            unsent_ids,
        })
    }

    fn error(&self, e: &WorkerError) -> ApiError {
        let param = match e {
            WorkerError::Engine(smolvlm::Error::Image(ie)) => images::param_of(ie, &self.images),
            _ => None,
        };
        codes::worker_error(e, param)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smolvlm::Timings;

    fn token(id: u32, text: &str) -> JobEvent {
        JobEvent::Engine(GenerationEvent::Token {
            id,
            text: text.into(),
        })
    }

    fn done(ids: &[u32], text: &str, reason: StopReason) -> JobEvent {
        JobEvent::Engine(GenerationEvent::Done(GenerationSummary {
            text: text.into(),
            token_ids: ids.to_vec(),
            prompt_tokens: 10,
            image_tokens: 4,
            stop_reason: reason,
            timings: Timings::default(),
        }))
    }

    fn prompt() -> JobEvent {
        JobEvent::Engine(GenerationEvent::Prompt {
            prompt_tokens: 10,
            image_tokens: 4,
            frames: 1,
            reused_tokens: 3,
        })
    }

    #[test]
    fn deltas_carry_every_id_and_the_end_counts_them() {
        let mut a = Answer::new(vec![], vec![]);
        assert!(a.on_event(JobEvent::Started { queued_s: 0.0 }).is_empty());
        assert_eq!(a.on_event(prompt()), vec![Step::Prompt]);
        // A token with no text yet (half a character) rides on the next delta.
        assert!(a.on_event(token(1, "")).is_empty());
        assert_eq!(
            a.on_event(token(2, "hé")),
            vec![Step::Delta {
                content: "hé".into(),
                token_ids: vec![1, 2]
            }]
        );
        assert!(a.on_event(token(3, "")).is_empty());
        let steps = a.on_event(done(&[1, 2, 3], "hé", StopReason::Eos));
        let [Step::End(end)] = &steps[..] else {
            panic!("{steps:?}")
        };
        assert_eq!(end.finish, FinishReason::Stop);
        assert_eq!(end.unsent_ids, vec![3]);
        assert_eq!(end.extra.token_ids, vec![1, 2, 3]);
        assert_eq!(
            (
                end.usage.prompt_tokens,
                end.usage.completion_tokens,
                end.usage.total_tokens
            ),
            (10, 3, 13)
        );
        assert_eq!(
            end.usage
                .prompt_tokens_details
                .as_ref()
                .unwrap()
                .cached_tokens,
            3
        );
        assert!(a.is_over());
        assert!(a.on_event(token(4, "late")).is_empty());
    }

    #[test]
    fn a_stop_string_ends_the_answer_at_once() {
        let mut a = Answer::new(vec!["\n".into()], vec![]);
        a.on_event(prompt());
        assert_eq!(
            a.on_event(token(1, "ab")),
            vec![Step::Delta {
                content: "ab".into(),
                token_ids: vec![1]
            }]
        );
        let steps = a.on_event(token(2, "c\nd"));
        assert_eq!(
            steps[0],
            Step::Delta {
                content: "c".into(),
                token_ids: vec![2]
            }
        );
        let Step::End(end) = &steps[1] else { panic!() };
        assert!(end.by_stop_string);
        assert_eq!(end.finish, FinishReason::Stop);
        assert!(a.is_over());
    }

    #[test]
    fn the_budget_running_out_is_length() {
        let mut a = Answer::new(vec![], vec![]);
        a.on_event(prompt());
        a.on_event(token(1, "a"));
        let steps = a.on_event(done(&[1], "ab", StopReason::Length));
        assert_eq!(
            steps[0],
            Step::Delta {
                content: "b".into(),
                token_ids: vec![]
            }
        );
        let Step::End(end) = &steps[1] else { panic!() };
        assert_eq!(end.finish, FinishReason::Length);
    }

    #[test]
    fn an_image_failure_names_the_image() {
        let images = vec![ImageRef {
            param: "messages[0].content[1]".into(),
            name: "messages[0].content[1]".into(),
        }];
        let mut a = Answer::new(vec![], images);
        let e = WorkerError::Engine(smolvlm::Error::Image(
            smolvlm::image::ImageError::UnknownFormat {
                name: "messages[0].content[1]".into(),
            },
        ));
        let steps = a.on_event(JobEvent::Failed(e));
        let [Step::Failed(err)] = &steps[..] else {
            panic!()
        };
        assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(err.param.as_deref(), Some("messages[0].content[1]"));
        assert_eq!(err.code.as_deref(), Some("image_unknown_format"));
    }
}
