//! Named resolutions, from the model's own tile: what a user picks instead of a pixel count.
//!
//! SmolVLM's card gives documents their own resolution: a longest edge of 5 tiles (5 × 384 for
//! SmolVLM-Instruct, against its default of 4). The same 5 tiles are used for every tile size,
//! so that the 512-px-tile models read pages as finely, in tiles, as the 384-px one.

use serde::{Deserialize, Serialize};

use crate::config::ProcessorConfig;
use crate::processor::MAX_IMAGE_SIZE;

/// Tiles along a page's longest edge at [`Resolution::Document`] (the model card's N = 5).
pub const DOCUMENT_TILES: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    /// Half the model's tiles along the longest edge (at least one): about a quarter of the
    /// image tokens, for photos and scenes.
    Fast,
    /// The model's own `size.longest_edge`.
    #[default]
    Standard,
    /// [`DOCUMENT_TILES`] tiles: small print, receipts, pages.
    Document,
}

impl Resolution {
    pub const ALL: [Resolution; 3] = [Resolution::Fast, Resolution::Standard, Resolution::Document];

    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Fast => "fast",
            Resolution::Standard => "standard",
            Resolution::Document => "document",
        }
    }

    /// The longest edge in pixels this preset gives `cfg`'s processor: a multiple of its tile,
    /// never above transformers' `MAX_IMAGE_SIZE`, Fast never above Standard and Document never
    /// below it.
    pub fn longest_edge(self, cfg: &ProcessorConfig) -> u32 {
        let tile = cfg.tile_size.max(1);
        let standard = cfg.longest_edge.max(1);
        let fits = |px: u32| px.min((MAX_IMAGE_SIZE / tile).max(1) * tile);
        match self {
            Resolution::Standard => standard,
            Resolution::Fast => {
                let tiles = standard.div_ceil(tile);
                fits(tiles.div_ceil(2) * tile).min(standard)
            }
            Resolution::Document => fits(DOCUMENT_TILES * tile).max(standard),
        }
    }
}

impl std::str::FromStr for Resolution {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Resolution::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s:?} is not a resolution: fast, standard or document"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(tile: u32, edge: u32) -> ProcessorConfig {
        ProcessorConfig {
            tile_size: tile,
            longest_edge: edge,
            ..ProcessorConfig::default()
        }
    }

    #[test]
    fn presets_follow_the_models_tile() {
        // SmolVLM-Instruct (384-px tiles, 4 by default) and SmolVLM-256M/500M (512, 4).
        for tile in [384, 512] {
            let c = cfg(tile, 4 * tile);
            assert_eq!(Resolution::Fast.longest_edge(&c), 2 * tile);
            assert_eq!(Resolution::Standard.longest_edge(&c), 4 * tile);
            assert_eq!(Resolution::Document.longest_edge(&c), 5 * tile);
        }
        // A 3-tile default gives 2 fast tiles; a 1-tile model stays at one tile when fast.
        assert_eq!(Resolution::Fast.longest_edge(&cfg(364, 3 * 364)), 2 * 364);
        assert_eq!(Resolution::Fast.longest_edge(&cfg(32, 32)), 32);
    }

    #[test]
    fn presets_stay_within_the_processors_bounds() {
        // A default already past 5 tiles is not lowered by Document.
        let wide = cfg(224, 6 * 224);
        assert_eq!(Resolution::Document.longest_edge(&wide), 6 * 224);
        // 5 tiles of 1000 px would be past MAX_IMAGE_SIZE: the largest multiple under it.
        assert_eq!(Resolution::Document.longest_edge(&cfg(1000, 1000)), 4000);
        // An edge that is not a multiple of the tile still gives Fast ≤ Standard.
        let odd = cfg(512, 700);
        assert_eq!(Resolution::Fast.longest_edge(&odd), 512);
    }

    #[test]
    fn names_round_trip() {
        for r in Resolution::ALL {
            assert_eq!(r.as_str().parse::<Resolution>(), Ok(r));
        }
        assert!("huge".parse::<Resolution>().is_err());
    }
}
