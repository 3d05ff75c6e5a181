//! The image resolution flags of the commands that show a model images (`generate`, `batch`):
//! a named preset from the model's tile, or a longest edge in pixels.

use clap::Args;
use smolvlm::image::{ProcessorConfig, Resolution};

#[derive(Args, Clone, Debug, Default)]
pub struct ResolutionArgs {
    /// Resize images so their longest edge is this many pixels before tiling (default: the
    /// model's own, e.g. 4×512 for SmolVLM-256M).
    #[arg(long, conflicts_with = "resolution")]
    pub longest_edge: Option<u32>,
    /// A resolution named from the model's tile: fast (half its tiles), standard (its own) or
    /// document (5 tiles, as SmolVLM's card gives documents). Default: standard, and document for
    /// a message with PDF pages.
    #[arg(long, value_name = "fast|standard|document")]
    pub resolution: Option<Resolution>,
}

impl ResolutionArgs {
    pub fn given(&self) -> bool {
        self.longest_edge.is_some() || self.resolution.is_some()
    }

    /// The longest edge for one message, or `None` for the model's own: the pixels given, else
    /// the preset named, else Document when the message shows PDF pages.
    pub fn longest_edge(&self, cfg: &ProcessorConfig, has_pdf: bool) -> Option<u32> {
        self.longest_edge.or_else(|| {
            self.resolution
                .or(has_pdf.then_some(Resolution::Document))
                .map(|r| r.longest_edge(cfg))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_pages_default_to_the_document_preset() {
        let cfg = ProcessorConfig {
            tile_size: 512,
            longest_edge: 2048,
            ..ProcessorConfig::default()
        };
        let none = ResolutionArgs::default();
        assert_eq!(none.longest_edge(&cfg, false), None);
        assert_eq!(none.longest_edge(&cfg, true), Some(2560));
        let fast = ResolutionArgs {
            resolution: Some(Resolution::Fast),
            ..ResolutionArgs::default()
        };
        assert_eq!(fast.longest_edge(&cfg, true), Some(1024));
        let px = ResolutionArgs {
            longest_edge: Some(700),
            ..ResolutionArgs::default()
        };
        assert_eq!(px.longest_edge(&cfg, true), Some(700));
    }
}
