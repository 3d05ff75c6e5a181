//! Answering with the local model, through the same single-turn path as `generate`.

use std::path::Path;

use smolvlm::{CancelToken, SamplingParams, SmolVlmModel, StopReason};

use super::record::{Answer, FileError, RecordError};
use super::{Answerer, BatchError};
use crate::CliError;
use crate::model_args::LoadArgs;
use crate::resolution::ResolutionArgs;
use smolvlm_pdf::PageList;

pub struct Local {
    model: SmolVlmModel,
    prompt: String,
    resolution: ResolutionArgs,
    /// The pages of each PDF (rendered at the longest edge the processor uses for them).
    pages: PageList,
    params: SamplingParams,
}

impl Local {
    pub fn load(
        model: &Path,
        load: &LoadArgs,
        prompt: &str,
        resolution: ResolutionArgs,
        pages: PageList,
        params: SamplingParams,
    ) -> Result<Self, BatchError> {
        let (path, options) = load.resolve(model)?;
        let model = crate::model_args::load_model(&path, &options)?;
        // Every line would carry the same error: say it once, before the run.
        if !model.has_vision() {
            return Err(CliError::from(smolvlm::Error::NoVision).into());
        }
        Ok(Self {
            model,
            prompt: prompt.to_string(),
            resolution,
            pages,
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
        let longest_edge = self.resolution.longest_edge(
            self.model.processor().config(),
            smolvlm_pdf::is_pdf_file(file),
        );
        let render_edge = crate::pages::render_edge(&self.model, longest_edge);
        let images = crate::pages::images_of(file, &self.pages, render_edge, cancel).map_err(
            |e| match e {
                CliError::Pdf {
                    error: smolvlm_pdf::PdfError::Cancelled { .. },
                    ..
                } => FileError::Cancelled,
                e => record(e).into(),
            },
        )?;
        let summary = crate::generate::answer_one_turn(
            &mut self.model,
            images,
            &self.prompt,
            longest_edge,
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
