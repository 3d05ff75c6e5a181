//! Answering with the local model, through the same single-turn path as `generate`.

use std::path::Path;

use smolvlm::{CancelToken, SamplingParams, SmolVlmModel, StopReason};

use super::record::{Answer, FileError, RecordError};
use super::{Answerer, BatchError};
use crate::CliError;
use crate::model_args::LoadArgs;
use crate::pages::PageList;

pub struct Local {
    model: SmolVlmModel,
    prompt: String,
    longest_edge: Option<u32>,
    /// The pages of each PDF, and the longest edge they are rendered at (the processor's).
    pages: PageList,
    render_edge: u32,
    params: SamplingParams,
}

impl Local {
    pub fn load(
        model: &Path,
        load: &LoadArgs,
        prompt: &str,
        longest_edge: Option<u32>,
        pages: PageList,
        params: SamplingParams,
    ) -> Result<Self, BatchError> {
        let (path, options) = load.resolve(model)?;
        let model = SmolVlmModel::load(&path, &options).map_err(CliError::from)?;
        // Every line would carry the same error: say it once, before the run.
        if !model.has_vision() {
            return Err(CliError::from(smolvlm::Error::NoVision).into());
        }
        let render_edge = crate::pages::render_edge(&model, longest_edge);
        Ok(Self {
            model,
            prompt: prompt.to_string(),
            longest_edge,
            pages,
            render_edge,
            params,
        })
    }
}

impl Answerer for Local {
    fn answer(&mut self, file: &Path, cancel: &CancelToken) -> Result<Answer, FileError> {
        // A fresh conversation: the previous image's cached prefix is dropped so the answer is
        // exactly `generate`'s for this image alone.
        self.model.clear_cache();
        let record = |e: CliError| RecordError::new(e.code(), e.to_string());
        let images =
            crate::pages::images_of(file, &self.pages, self.render_edge, cancel).map_err(|e| {
                match e {
                    CliError::Pdf {
                        error: smolvlm_pdf::PdfError::Cancelled { .. },
                        ..
                    } => FileError::Cancelled,
                    e => record(e).into(),
                }
            })?;
        let summary = crate::generate::answer_one_turn(
            &mut self.model,
            images,
            &self.prompt,
            self.longest_edge,
            self.params.clone(),
            cancel.clone(),
            |_| Ok(()),
        )
        .map_err(record)?;
        let stop_reason = match summary.stop_reason {
            StopReason::Cancelled => return Err(FileError::Cancelled),
            StopReason::Eos => "eos",
            StopReason::Length => "length",
        };
        Ok(Answer {
            text: summary.text,
            tokens: summary.token_ids.len(),
            token_ids: Some(summary.token_ids),
            image_tokens: Some(summary.image_tokens),
            prompt_tokens: Some(summary.prompt_tokens),
            stop_reason: Some(stop_reason.into()),
            timings: serde_json::to_value(&summary.timings).ok(),
        })
    }
}
