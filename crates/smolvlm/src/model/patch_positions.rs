//! Idefics3's patch position ids (`Idefics3VisionEmbeddings.forward`), reproduced bit for bit.
//!
//! transformers does not number a frame's patches 0..N-1: it maps each row (and column) index i
//! of an `nb`-patch frame to the fraction `i · (1/nb)` in f32 and buckets it against
//! `torch.arange(1/n, 1.0, 1/n)` (n = patches per side of the tower), `bucketize(right=True)`.
//! Rounding makes that the identity only for some n: for 32 (SigLIP-B/16 at 512) and 27
//! (SO400M/14 at 384) it is, for 19, 25, 29, 31, 38, … two rows share a position and one is
//! skipped. The boundaries must be torch's own floats, and torch's CPU `arange` makes them in
//! blocks of 16: each half-block of 8 from a base `f32(start + step·idx)` as `f32(base + j·step)`
//! (its `Vectorized<float>::arange` with a double step), the tail one element at a time as
//! `f32(start + step·idx)`. Checked against torch 2.15 for every n up to 499 (the same on its
//! default, AVX2 and AVX-512 kernels), and against the table in
//! tests/fixtures/patch-positions.json in the tests.

/// torch's `arange(1/n, 1.0, 1/n)` in float32, element for element.
fn boundaries(n: usize) -> Vec<f32> {
    let step = 1.0 / n as f64;
    let start = step;
    // torch sizes a floating arange in double: ceil((end - start) / step).
    let len = ((1.0 - start) / step).ceil().max(0.0) as usize;
    let mut out = Vec::with_capacity(len);
    let mut idx = 0;
    while idx + 16 <= len {
        for half in [idx, idx + 8] {
            let base = (start + step * half as f64) as f32;
            out.extend((0..8).map(|j| (base as f64 + j as f64 * step) as f32));
        }
        idx += 16;
    }
    out.extend((idx..len).map(|i| (start + step * i as f64) as f32));
    out
}

/// The bucket of each of `nb` rows (or columns) of a frame, for a tower of `n` patches per side.
fn buckets(nb: usize, n: usize) -> Vec<usize> {
    let bounds = boundaries(n);
    let step = 1.0f32 / nb as f32;
    let top = (1.0f64 - 1e-6) as f32;
    (0..nb)
        .map(|i| {
            let x = (i as f32 * step).min(top);
            // bucketize(right=True): how many boundaries are <= x (they are sorted).
            bounds.partition_point(|&b| b <= x)
        })
        .collect()
}

/// Position ids of a frame of `rows × cols` patches, row-major, for a tower of `n` patches per
/// side; `None` when they are simply 0..rows·cols (then no gather is needed).
pub(crate) fn position_ids(rows: usize, cols: usize, n: usize) -> Option<Vec<u32>> {
    let (bh, bw) = (buckets(rows, n), buckets(cols, n));
    let ids: Vec<u32> = bh
        .iter()
        .flat_map(|&r| bw.iter().map(move |&c| (r * n + c) as u32))
        .collect();
    let identity = ids.iter().enumerate().all(|(i, &id)| id as usize == i);
    (!identity).then_some(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table tests/fixtures/patch-positions.json holds torch's buckets for full frames of
    /// n = 1..=64 patches per side (scripts/fixtures/make_patch_positions.py).
    #[test]
    fn buckets_are_torchs_for_every_grid_in_the_table() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/patch-positions.json"
        );
        let table: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("the table")).expect("json");
        let grids = table["buckets"].as_object().expect("buckets");
        assert!(grids.len() >= 64, "{} grids", grids.len());
        let mut not_identity = 0;
        for (n, want) in grids {
            let n: usize = n.parse().unwrap();
            let want: Vec<usize> = want
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(buckets(n, n), want, "n = {n}");
            if want.iter().enumerate().any(|(i, &b)| b != i) {
                not_identity += 1;
            }
        }
        // The table is only a check if some grids are not the identity.
        assert!(not_identity > 5, "{not_identity}");
    }

    #[test]
    fn the_family_grids_are_plain_and_others_gather() {
        assert_eq!(position_ids(32, 32, 32), None); // SigLIP-B/16 at 512
        assert_eq!(position_ids(27, 27, 27), None); // SigLIP-SO400M/14 at 384
        let ids = position_ids(19, 19, 19).expect("19 is not the identity");
        assert_eq!(ids.len(), 19 * 19);
        // Row 12 is bucketed with row 11: its first patch has row 11's position.
        assert_eq!(ids[12 * 19], 11 * 19);
        assert!(ids.iter().all(|&i| (i as usize) < 19 * 19));
    }
}
