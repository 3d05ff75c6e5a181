//! Image processor settings: `preprocessor_config.json` (`Idefics3ImageProcessor` /
//! `SmolVLMImageProcessor`) plus the processor's `image_seq_len` from `processor_config.json`.
//! Missing keys take transformers' defaults.

use std::path::Path;

use serde::Deserialize;

use crate::error::{ImageError, Result};

/// Image processor settings (`Idefics3ImageProcessor` / `SmolVLMImageProcessor`) plus the
/// processor's `image_seq_len`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessorConfig {
    pub do_convert_rgb: bool,
    pub do_resize: bool,
    /// `size.longest_edge`: every image is first resized so its longest edge is this.
    pub longest_edge: u32,
    /// `max_image_size.longest_edge`: the tile side the vision encoder takes.
    pub tile_size: u32,
    pub do_image_splitting: bool,
    /// PIL resample filter id (1 = LANCZOS).
    pub resample: u32,
    pub do_rescale: bool,
    pub rescale_factor: f64,
    pub do_normalize: bool,
    pub image_mean: [f32; 3],
    pub image_std: [f32; 3],
    /// `<image>` tokens per frame (tile or global view).
    pub image_seq_len: usize,
}

impl Default for ProcessorConfig {
    /// `Idefics3ImageProcessor.__init__` and `Idefics3Processor.__init__` defaults.
    fn default() -> Self {
        Self {
            do_convert_rgb: true,
            do_resize: true,
            longest_edge: 4 * 364,
            tile_size: 364,
            do_image_splitting: true,
            resample: 1,
            do_rescale: true,
            rescale_factor: 1.0 / 255.0,
            do_normalize: true,
            image_mean: [0.5; 3],
            image_std: [0.5; 3],
            image_seq_len: 169,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
struct RawImageProcessor {
    do_convert_rgb: Option<bool>,
    do_resize: Option<bool>,
    size: Option<LongestEdge>,
    max_image_size: Option<LongestEdge>,
    do_image_splitting: Option<bool>,
    resample: Option<u32>,
    do_rescale: Option<bool>,
    rescale_factor: Option<f64>,
    do_normalize: Option<bool>,
    image_mean: Option<ChannelValues>,
    image_std: Option<ChannelValues>,
    image_seq_len: Option<usize>,
}

#[derive(Debug, Deserialize)]
struct LongestEdge {
    longest_edge: u32,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ChannelValues {
    One(f32),
    Three([f32; 3]),
}

impl ChannelValues {
    fn per_channel(&self) -> [f32; 3] {
        match self {
            ChannelValues::One(v) => [*v; 3],
            ChannelValues::Three(v) => *v,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
struct RawProcessor {
    image_seq_len: Option<usize>,
    /// transformers 5 may nest the image processor settings in `processor_config.json`.
    image_processor: Option<RawImageProcessor>,
}

impl ProcessorConfig {
    /// Reads `preprocessor_config.json` and `processor_config.json` from a model folder; either
    /// may be absent (transformers' defaults are used).
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let pre: Option<RawImageProcessor> = read_json_opt(&dir.join("preprocessor_config.json"))?;
        let proc: Option<RawProcessor> = read_json_opt(&dir.join("processor_config.json"))?;
        let proc = proc.unwrap_or_default();
        let image = pre.or(proc.image_processor).unwrap_or_default();
        let mut cfg = Self::default();
        cfg.apply(&image);
        if let Some(n) = proc.image_seq_len.or(image.image_seq_len) {
            cfg.image_seq_len = n;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn apply(&mut self, raw: &RawImageProcessor) {
        let d = self.clone();
        self.do_convert_rgb = raw.do_convert_rgb.unwrap_or(d.do_convert_rgb);
        self.do_resize = raw.do_resize.unwrap_or(d.do_resize);
        self.longest_edge = raw.size.as_ref().map_or(d.longest_edge, |s| s.longest_edge);
        self.tile_size = raw
            .max_image_size
            .as_ref()
            .map_or(d.tile_size, |s| s.longest_edge);
        self.do_image_splitting = raw.do_image_splitting.unwrap_or(d.do_image_splitting);
        self.resample = raw.resample.unwrap_or(d.resample);
        self.do_rescale = raw.do_rescale.unwrap_or(d.do_rescale);
        self.rescale_factor = raw.rescale_factor.unwrap_or(d.rescale_factor);
        self.do_normalize = raw.do_normalize.unwrap_or(d.do_normalize);
        self.image_mean = raw
            .image_mean
            .as_ref()
            .map_or(d.image_mean, |m| m.per_channel());
        self.image_std = raw
            .image_std
            .as_ref()
            .map_or(d.image_std, |m| m.per_channel());
    }

    fn validate(&self) -> Result<()> {
        if self.tile_size == 0 || self.longest_edge == 0 {
            return Err(ImageError::Config {
                path: "processor config".into(),
                reason: "zero image size".into(),
            });
        }
        if self.image_std.contains(&0.0) {
            return Err(ImageError::Config {
                path: "processor config".into(),
                reason: "zero image_std".into(),
            });
        }
        Ok(())
    }
}

/// Parses a JSON file, `None` when it does not exist.
fn read_json_opt<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ImageError::Config {
                path: path.display().to_string(),
                reason: e.to_string(),
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ImageError::Config {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processor_settings_from_hub_style_json() {
        let raw: RawImageProcessor = serde_json::from_str(
            r#"{"size": {"longest_edge": 2048}, "max_image_size": {"longest_edge": 512},
                "do_image_splitting": false, "image_mean": [0.5, 0.5, 0.5], "image_std": 0.5}"#,
        )
        .unwrap();
        let mut cfg = ProcessorConfig::default();
        cfg.apply(&raw);
        assert_eq!(cfg.longest_edge, 2048);
        assert_eq!(cfg.tile_size, 512);
        assert!(!cfg.do_image_splitting);
        assert_eq!(cfg.image_std, [0.5; 3]);
    }
}
