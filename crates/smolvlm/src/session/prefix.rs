//! Which part of a prompt the decoder's KV cache already holds. A follow-up question repeats the
//! whole conversation, images included; positions whose keys match the cache's are not run
//! again, and images whose tokens all fall inside the reused prefix are not re-encoded.

use std::hash::{DefaultHasher, Hash, Hasher};

/// One key per decoder position: the token id, and for `<image>` positions also the frame's
/// pixels and the row within the frame, since every image shares the same `<image>` id.
pub fn position_keys(
    ids: &[u32],
    image_token_id: u32,
    pixel_values: &[f32],
    frames: usize,
    tokens_per_frame: usize,
) -> Vec<u64> {
    let frame_len = pixel_values.len().checked_div(frames).unwrap_or(0);
    let frame_hashes: Vec<u64> = (0..frames)
        .map(|f| {
            let mut h = DefaultHasher::new();
            for v in &pixel_values[f * frame_len..(f + 1) * frame_len] {
                v.to_bits().hash(&mut h);
            }
            h.finish()
        })
        .collect();
    let mut image_index = 0;
    ids.iter()
        .map(|&id| {
            let mut h = DefaultHasher::new();
            id.hash(&mut h);
            if id == image_token_id {
                frame_hashes[image_index / tokens_per_frame].hash(&mut h);
                (image_index % tokens_per_frame).hash(&mut h);
                image_index += 1;
            }
            h.finish()
        })
        .collect()
}

/// A generated token fed back into the decoder (never an image position).
pub fn text_key(id: u32) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// How many leading positions can be reused: the common prefix, less one, because the last prompt
/// position must run to give the first token's logits.
pub fn reusable(cached: &[u64], wanted: &[u64]) -> usize {
    let common = cached
        .iter()
        .zip(wanted)
        .take_while(|(a, b)| a == b)
        .count();
    common.min(wanted.len().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_with_the_same_tokens_but_other_pixels_differ() {
        let ids = [1, 9, 9, 2];
        let a = position_keys(&ids, 9, &[0.0, 1.0], 1, 2);
        let b = position_keys(&ids, 9, &[0.0, 0.5], 1, 2);
        assert_eq!(a[0], b[0]);
        assert_ne!(a[1], b[1]);
        assert_ne!(a[1], a[2], "rows within a frame differ");
        assert_eq!(reusable(&a, &b), 1);
    }

    #[test]
    fn the_last_position_always_runs() {
        let k = position_keys(&[1, 2, 3], 9, &[], 0, 4);
        assert_eq!(reusable(&k, &k), 2);
        assert_eq!(reusable(&[], &k), 0);
        assert_eq!(reusable(&k, &k[..1]), 0);
        assert_eq!(text_key(3), k[2]);
    }
}
