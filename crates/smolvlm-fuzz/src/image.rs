//! `image`: a pasted or sent image file, decoded as the engine decodes it, sized from its
//! headers as the app and the server size it before sending, then planned by a real model
//! family's processor settings and resized, tiled and normalized by them scaled down.

use smolvlm_image::{
    ImageLimits, ImageProcessor, ProcessorConfig, Resolution, decode_image_bytes, image_dimensions,
};

use crate::scratch::scratch;

/// The decoders' real side limit, with a smaller allocation cap than the engine's 1 GiB: an
/// image the real limit accepts, decoded and then resized by the processor, is seconds of work
/// and most of libFuzzer's memory limit, so under the fuzzer it is refused as too large instead.
const LIMITS: ImageLimits = ImageLimits {
    max_side: smolvlm_image::MAX_IMAGE_SIDE,
    max_alloc: 64 << 20,
    max_file_bytes: smolvlm_image::MAX_FILE_BYTES,
};

/// SmolVLM-256M / 500M: 512-px tiles, a longest edge of 4 tiles, 64 tokens a frame.
fn smolvlm_256m() -> ProcessorConfig {
    ProcessorConfig {
        tile_size: 512,
        longest_edge: 2048,
        image_seq_len: 64,
        ..ProcessorConfig::default()
    }
}

/// SmolVLM-Instruct (2.2B): 384-px tiles, a longest edge of 4 tiles, 81 tokens a frame.
fn smolvlm_2b() -> ProcessorConfig {
    ProcessorConfig {
        tile_size: 384,
        longest_edge: 1536,
        image_seq_len: 81,
        ..ProcessorConfig::default()
    }
}

pub fn image(data: &[u8]) {
    // The file must start with its own magic, so the settings come from the input's length.
    let cfg = if data.len().is_multiple_of(2) {
        smolvlm_256m()
    } else {
        smolvlm_2b()
    };
    let preset = Resolution::ALL[data.len() / 2 % Resolution::ALL.len()];
    let header = {
        let scratch = scratch();
        let path = scratch.write("input.img", data);
        image_dimensions(&path, &LIMITS)
    };
    let Ok(rgb) = decode_image_bytes(data, "input", &LIMITS) else {
        return;
    };
    // What the app prices an image's tokens from must be the size the engine then decodes.
    if let Ok(size) = header {
        assert_eq!(
            size,
            rgb.dimensions(),
            "the header size differs from the decoded size"
        );
    }
    let processor = ImageProcessor::new(cfg);
    let Ok(processor) = processor.with_longest_edge(preset.longest_edge(processor.config())) else {
        return;
    };
    // The real settings' geometry, then the pixels through the same settings at an eighth of
    // their tile and edge: every small input is resized *up* to the longest edge, and at 2048 px
    // and 16 tiles one input took ~0.4 s under the fuzzer (239 inputs in 90 s).
    let _ = processor.plan(rgb.width(), rgb.height());
    let mut small = processor.config().clone();
    small.tile_size = (small.tile_size / 8).max(1);
    small.longest_edge = (small.longest_edge / 8).max(1);
    let processor = ImageProcessor::new(small);
    let plan = processor.plan(rgb.width(), rgb.height());
    let Ok(processed) = processor.process(&rgb) else {
        return;
    };
    assert_eq!(processed.plan, plan, "process did not follow its plan");
    assert_eq!(processed.frames.len(), plan.frames);
    let tile = processor.config().tile_size as usize;
    let values = processed.pixel_values(processor.config());
    assert_eq!(values.len(), plan.frames * 3 * tile * tile);
}
