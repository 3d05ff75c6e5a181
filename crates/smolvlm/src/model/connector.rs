//! Idefics3's connector: pixel shuffle (r×r neighbouring patches become one token of r²× the
//! width) followed by the bias-free modality projection into the decoder's width.

use candle_core::{Module, Result, Tensor};

use super::linear::Linear;
use super::weights::Weights;

#[derive(Debug, Clone)]
pub struct Connector {
    proj: Linear,
    scale: usize,
}

impl Connector {
    /// `w` points at `model.connector`.
    pub fn new(
        vision_hidden: usize,
        text_hidden: usize,
        scale: usize,
        w: &Weights,
    ) -> Result<Self> {
        let proj = w.linear(
            vision_hidden * scale * scale,
            text_hidden,
            false,
            "modality_projection.proj",
        )?;
        Ok(Self { proj, scale })
    }
}

impl Module for Connector {
    /// (frames, patches, vision_hidden) → (frames, patches / r², text_hidden).
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.proj.forward(&pixel_shuffle(xs, self.scale)?)
    }
}

/// transformers' `Idefics3Connector.pixel_shuffle`, step for step: the same reshapes and
/// permutes, so features land in the same order as the reference.
pub fn pixel_shuffle(xs: &Tensor, r: usize) -> Result<Tensor> {
    let (n, seq, dim) = xs.dims3()?;
    let side = (seq as f64).sqrt() as usize;
    if side * side != seq || !side.is_multiple_of(r) {
        candle_core::bail!("cannot pixel-shuffle {seq} patches by {r}");
    }
    xs.reshape((n, side, side / r, dim * r))?
        .permute((0, 2, 1, 3))?
        .reshape((n, side / r, side / r, dim * r * r))?
        .permute((0, 2, 1, 3))?
        .reshape((n, seq / (r * r), dim * r * r))
}
