//! Geometry, tiling and normalization of `Idefics3ImageProcessorPil` (transformers 5.24,
//! `models/idefics3/image_processing_pil_idefics3.py`; SmolVLM's processor is the same algorithm).
//!
//! Sizes are computed with the same `f64` divisions and truncations as the Python code, so that
//! odd sizes land on the same pixel counts.

use image::RgbImage;
use image::imageops;

use crate::config::ProcessorConfig;
use crate::error::{ImageError, Result};
use crate::resample::{Filter, resize};

/// transformers' `MAX_IMAGE_SIZE`: no resized image side exceeds this.
pub const MAX_IMAGE_SIZE: u32 = 4096;

/// Sizes an image goes through, without touching pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImagePlan {
    /// `(width, height)` after the longest-edge resize (step 1; the input size without
    /// `do_resize`).
    pub resized: (u32, u32),
    /// `(width, height)` of the image the tiles are cut from: rounded up to multiples of the
    /// tile size with splitting, `(tile, tile)` without.
    pub grid: (u32, u32),
    /// Tile rows; 0 when the image is a single frame.
    pub rows: usize,
    /// Tile columns; 0 when the image is a single frame.
    pub cols: usize,
    /// Frames fed to the vision encoder: `rows * cols` tiles plus the global view, or 1.
    pub frames: usize,
}

/// The frames of one image, before rescaling and normalization.
#[derive(Debug, Clone)]
pub struct ProcessedImage {
    pub plan: ImagePlan,
    /// Tiles row-major, then the global view last; each `tile × tile`.
    pub frames: Vec<RgbImage>,
}

impl ProcessedImage {
    /// `frames × 3 × tile × tile` values, channel-first, rescaled and normalized as transformers
    /// does: `f32(f64(u8) * rescale_factor)`, then `(x - mean) / std` in `f32`.
    pub fn pixel_values(&self, cfg: &ProcessorConfig) -> Vec<f32> {
        // One lookup table per channel: each of the 256 input values maps to one output.
        let tables: [[f32; 256]; 3] = std::array::from_fn(|c| {
            std::array::from_fn(|v| {
                let mut x = if cfg.do_rescale {
                    (v as f64 * cfg.rescale_factor) as f32
                } else {
                    v as f32
                };
                if cfg.do_normalize {
                    x = (x - cfg.image_mean[c]) / cfg.image_std[c];
                }
                x
            })
        });
        let total: usize = self.frames.iter().map(|f| f.as_raw().len()).sum();
        let mut out = Vec::with_capacity(total);
        for frame in &self.frames {
            let raw = frame.as_raw();
            for (c, table) in tables.iter().enumerate() {
                out.extend(raw.iter().skip(c).step_by(3).map(|&v| table[v as usize]));
            }
        }
        out
    }
}

/// SmolVLM / Idefics3 image processor (transformers' PIL backend).
#[derive(Debug, Clone)]
pub struct ImageProcessor {
    cfg: ProcessorConfig,
}

impl ImageProcessor {
    pub fn new(cfg: ProcessorConfig) -> Self {
        Self { cfg }
    }

    pub fn config(&self) -> &ProcessorConfig {
        &self.cfg
    }

    /// The same processor with `size.longest_edge` replaced: a multiple N of the tile size gives
    /// up to N×N tiles (smaller is faster; N = 5 suits documents). Errors if `px` is 0.
    pub fn with_longest_edge(&self, px: u32) -> Result<Self> {
        if px == 0 {
            return Err(ImageError::InvalidSetting {
                reason: "the longest edge must be at least 1 pixel".into(),
            });
        }
        let mut cfg = self.cfg.clone();
        cfg.longest_edge = px;
        Ok(Self { cfg })
    }

    /// The sizes `process` would produce for a `width × height` image.
    pub fn plan(&self, width: u32, height: u32) -> ImagePlan {
        let tile = self.cfg.tile_size;
        let resized = if self.cfg.do_resize {
            let (w, h) = rescale_to_max_len(width, height, self.cfg.longest_edge);
            scale_below_upper_bound(w, h, MAX_IMAGE_SIZE)
        } else {
            (width, height)
        };
        if !self.cfg.do_image_splitting {
            return ImagePlan {
                resized,
                grid: (tile, tile),
                rows: 0,
                cols: 0,
                frames: 1,
            };
        }
        let grid = resize_for_vision_encoder(resized.0, resized.1, tile);
        let (rows, cols) = if grid.1 > tile || grid.0 > tile {
            (
                ((grid.1 - tile) / tile + 1) as usize,
                ((grid.0 - tile) / tile + 1) as usize,
            )
        } else {
            (0, 0)
        };
        let frames = if rows > 0 { rows * cols + 1 } else { 1 };
        ImagePlan {
            resized,
            grid,
            rows,
            cols,
            frames,
        }
    }

    /// Resizes and tiles one RGB image into `tile × tile` frames.
    pub fn process(&self, image: &RgbImage) -> Result<ProcessedImage> {
        let filter =
            Filter::from_pil(self.cfg.resample).ok_or_else(|| ImageError::InvalidSetting {
                reason: format!(
                    "resample {} is not a PIL filter (0 nearest, 1 lanczos, 2 bilinear, \
                     3 bicubic, 4 box, 5 hamming)",
                    self.cfg.resample
                ),
            })?;
        let (w, h) = image.dimensions();
        if w == 0 || h == 0 {
            return Err(ImageError::ZeroSized {
                name: "image".into(),
                width: w,
                height: h,
            });
        }
        let plan = self.plan(w, h);
        let tile = self.cfg.tile_size;
        let resized = resize(image, plan.resized.0, plan.resized.1, filter);
        let frames = if !self.cfg.do_image_splitting {
            vec![resize(&resized, tile, tile, filter)]
        } else {
            let grid = resize(&resized, plan.grid.0, plan.grid.1, filter);
            if plan.rows == 0 {
                vec![grid]
            } else {
                let mut frames = Vec::with_capacity(plan.frames);
                for r in 0..plan.rows as u32 {
                    for c in 0..plan.cols as u32 {
                        frames.push(
                            imageops::crop_imm(&grid, c * tile, r * tile, tile, tile).to_image(),
                        );
                    }
                }
                frames.push(resize(&grid, tile, tile, filter));
                frames
            }
        };
        Ok(ProcessedImage { plan, frames })
    }
}

/// `_resize_output_size_rescale_to_max_len` (min_len 1): the longest edge becomes `max_len`, the
/// other edge keeps the aspect ratio, truncated and then bumped to even.
fn rescale_to_max_len(width: u32, height: u32, max_len: u32) -> (u32, u32) {
    let aspect = f64::from(width) / f64::from(height);
    let bump_to_even = |v: u32| if v.is_multiple_of(2) { v } else { v + 1 };
    let (w, h) = if width >= height {
        (max_len, bump_to_even((f64::from(max_len) / aspect) as u32))
    } else {
        (bump_to_even((f64::from(max_len) * aspect) as u32), max_len)
    };
    (w.max(1), h.max(1))
}

/// `_resize_output_size_scale_below_upper_bound`: shrink so that no side exceeds `max_len`
/// (no bump to even here).
fn scale_below_upper_bound(width: u32, height: u32, max_len: u32) -> (u32, u32) {
    let aspect = f64::from(width) / f64::from(height);
    let (mut w, mut h) = (width, height);
    if width >= height && width > max_len {
        w = max_len;
        h = (f64::from(w) / aspect) as u32;
    } else if height > width && height > max_len {
        h = max_len;
        w = (f64::from(h) * aspect) as u32;
    }
    (w.max(1), h.max(1))
}

/// `resize_for_vision_encoder`: round the long side up to a multiple of `tile`, derive the
/// other side from the aspect ratio, and round it up too.
fn resize_for_vision_encoder(width: u32, height: u32, tile: u32) -> (u32, u32) {
    let aspect = f64::from(width) / f64::from(height);
    let ceil_to_tile = |v: f64| ((v / f64::from(tile)).ceil() as u32).saturating_mul(tile);
    if width >= height {
        let w = ceil_to_tile(f64::from(width));
        let h = (f64::from(w) / aspect) as u32;
        (w, ceil_to_tile(f64::from(h)))
    } else {
        let h = ceil_to_tile(f64::from(height));
        let w = (f64::from(h) * aspect) as u32;
        (ceil_to_tile(f64::from(w)), h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(longest: u32, tile: u32, split: bool) -> ImageProcessor {
        ImageProcessor::new(ProcessorConfig {
            longest_edge: longest,
            tile_size: tile,
            do_image_splitting: split,
            ..ProcessorConfig::default()
        })
    }

    #[test]
    fn plan_matches_reference_fixture_table() {
        // tests/fixtures/tiny-smolvlm/README.md, "Processor".
        let p = cfg(512, 128, true);
        let wide = p.plan(300, 200);
        assert_eq!((wide.resized, wide.grid), ((512, 342), (512, 384)));
        assert_eq!((wide.rows, wide.cols, wide.frames), (3, 4, 13));
        let tall = p.plan(96, 300);
        assert_eq!((tall.resized, tall.grid), ((164, 512), (256, 512)));
        assert_eq!((tall.rows, tall.cols, tall.frames), (4, 2, 9));
        let long = p.plan(500, 120);
        assert_eq!((long.resized, long.grid), ((512, 122), (512, 128)));
        assert_eq!((long.rows, long.cols, long.frames), (1, 4, 5));
    }

    #[test]
    fn plan_extreme_aspect_ratios() {
        // Values from transformers' own functions (see the goldens script for the full matrix).
        let p = cfg(2048, 512, true);
        let a = p.plan(100_000, 1);
        assert_eq!(a.resized, (2048, 1));
        assert_eq!(a.grid, (2048, 512));
        assert_eq!((a.rows, a.cols, a.frames), (1, 4, 5));
        let b = p.plan(1, 100_000);
        assert_eq!(b.resized, (1, 2048));
        assert_eq!(b.grid, (512, 2048));
        assert_eq!((b.rows, b.cols, b.frames), (4, 1, 5));
        // Odd truncated sides are bumped to even.
        assert_eq!(p.plan(3, 1).resized, (2048, 682));
        assert_eq!(p.plan(3, 1).grid, (2048, 1024));
        assert_eq!(p.plan(1, 1).resized, (2048, 2048));
        assert_eq!(p.plan(1, 1).frames, 17);
    }

    #[test]
    fn plan_caps_at_max_image_size() {
        // Values from transformers' own functions. A longest edge above 4096 is brought back under transformers' MAX_IMAGE_SIZE.
        let p = cfg(5000, 512, true);
        let plan = p.plan(3000, 2000);
        assert_eq!(plan.resized, (4096, 2731));
        assert_eq!(plan.grid, (4096, 3072));
        let portrait = p.plan(2000, 3000);
        assert_eq!(portrait.resized, (2731, 4096));
        assert_eq!(portrait.grid, (3072, 4096));
    }

    #[test]
    fn plan_without_splitting_is_one_square_frame() {
        let plan = cfg(2048, 512, false).plan(640, 480);
        assert_eq!(plan.resized, (2048, 1536));
        assert_eq!(plan.grid, (512, 512));
        assert_eq!((plan.rows, plan.cols, plan.frames), (0, 0, 1));
    }

    #[test]
    fn plan_small_grid_is_one_frame() {
        let plan = cfg(384, 384, true).plan(640, 480);
        assert_eq!(plan.grid, (384, 384));
        assert_eq!((plan.rows, plan.cols, plan.frames), (0, 0, 1));
    }

    #[test]
    fn plan_agrees_with_process_for_many_sizes() {
        let p = cfg(96, 32, true);
        for (w, h) in [
            (1, 1),
            (7, 3),
            (3, 7),
            (50, 1),
            (1, 50),
            (33, 32),
            (200, 199),
        ] {
            let img = RgbImage::new(w, h);
            let out = p.process(&img).unwrap();
            assert_eq!(out.frames.len(), out.plan.frames, "{w}x{h}");
            assert!(out.frames.iter().all(|f| f.dimensions() == (32, 32)));
        }
    }

    #[test]
    fn zero_longest_edge_is_rejected() {
        let err = cfg(2048, 512, true).with_longest_edge(0).unwrap_err();
        assert_eq!(err.code(), "invalid_setting");
        let p = cfg(2048, 512, true).with_longest_edge(1024).unwrap();
        assert_eq!(p.config().longest_edge, 1024);
    }

    #[test]
    fn unknown_resample_is_an_error() {
        let p = ImageProcessor::new(ProcessorConfig {
            resample: 9,
            ..ProcessorConfig::default()
        });
        let err = p.process(&RgbImage::new(4, 4)).unwrap_err();
        assert_eq!(err.code(), "invalid_setting");
    }
}
