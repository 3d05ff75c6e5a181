//! Records of 16 rows, group after group: the storage and threading both interleaved layouts
//! share.

use crate::common::interleaved::{GROUP, ROWS};
use crate::pool::parallel;
use crate::send_ptr::SendPtr;

/// The weights a chunk of a product aims at, in units of 10 bytes: ~40 KiB (at SmolLM2's widths),
/// few enough chunks that the shared counter costs nothing, enough that late threads still find
/// work. (In tens so that `per_chunk` divides by a group's bytes / 10 + 1, never by zero.)
const CHUNK_DECABYTES: usize = 4096;
/// Groups per chunk, at most: a wide matrix still splits into enough chunks.
const MAX_GROUPS_PER_CHUNK: usize = 8;

pub(crate) struct Records {
    rows: usize,
    blocks: usize,
    record: usize,
    data: Vec<u8>,
}

impl Records {
    /// `rows` rows of `blocks` records of `record` bytes, filled on every thread of the pool:
    /// `fill(rec, lane, row, block)` writes block `block` of row `row` into lane `lane` of `rec`.
    pub(crate) fn build(
        rows: usize,
        blocks: usize,
        record: usize,
        fill: impl Fn(&mut [u8], usize, usize, usize) + Sync,
    ) -> Self {
        let groups = rows.div_ceil(GROUP);
        let mut data = vec![0u8; groups * blocks * record];
        let dst = SendPtr::new(data.as_mut_ptr());
        parallel(groups, &|g| {
            // SAFETY: `data` holds `groups` groups of `blocks · record` bytes, and group g (one
            // call per group) writes only bytes [g·blocks·record, (g + 1)·blocks·record).
            let group = unsafe { dst.slice_mut(g * blocks * record, blocks * record) };
            for lane in 0..GROUP.min(rows - g * GROUP) {
                for (b, rec) in group.chunks_exact_mut(record).enumerate() {
                    fill(rec, lane, g * GROUP + lane, b);
                }
            }
        });
        Self {
            rows,
            blocks,
            record,
            data,
        }
    }

    /// The records of group `g`, block after block.
    pub(crate) fn group(&self, g: usize) -> &[u8] {
        let len = self.blocks * self.record;
        &self.data[g * len..(g + 1) * len]
    }

    /// Groups of rows per chunk (see [`CHUNK_DECABYTES`]).
    fn per_chunk(&self) -> usize {
        (CHUNK_DECABYTES / (self.blocks * self.record / 10 + 1)).clamp(1, MAX_GROUPS_PER_CHUNK)
    }

    pub(crate) fn chunks(&self) -> usize {
        self.rows.div_ceil(GROUP).div_ceil(self.per_chunk())
    }

    /// Writes chunk `c` of `acts · Wᵀ` — `out[j·ldy + r]` for the chunk's rows r — with
    /// `dot(records, rows, sums)` adding a group's 16 dot products with each of up to [`ROWS`]
    /// activation rows to `sums[i]`. A group's records stay in L1 while every activation row
    /// passes over them, [`ROWS`] at a time.
    ///
    /// # Safety
    /// `out` holds `acts.len()` rows of `ldy ≥ rows` floats, and nobody else accesses this
    /// chunk's elements during the call.
    pub(crate) unsafe fn run_chunk<A>(
        &self,
        c: usize,
        acts: &[Vec<A>],
        out: SendPtr,
        ldy: usize,
        dot: impl Fn(&[u8], &[&[A]], &mut [[f32; GROUP]]),
    ) {
        debug_assert!(acts.iter().all(|a| a.len() == self.blocks));
        let (per_chunk, groups) = (self.per_chunk(), self.rows.div_ceil(GROUP));
        // The rows' slices, ROWS to a batch, made once for the chunk: a decode step's group
        // (one row, a few hundred instructions of dot products for a 576-wide model) has no
        // room for per-group set-up — building them per group cost its decode 10–15 %.
        fn batch_of<A>(batch: &[Vec<A>]) -> [&[A]; ROWS] {
            std::array::from_fn(|i| batch.get(i).map_or(&[][..], |a| &a[..]))
        }
        let one = [batch_of(&acts[..acts.len().min(ROWS)])];
        let many: Vec<_> = if acts.len() > ROWS {
            acts.chunks(ROWS).map(batch_of).collect()
        } else {
            Vec::new()
        };
        let batches = if many.is_empty() { &one[..] } else { &many[..] };
        let mut sums = [[0f32; GROUP]; ROWS];
        for g in c * per_chunk..((c + 1) * per_chunk).min(groups) {
            let live = GROUP.min(self.rows - g * GROUP);
            for (q, rows) in batches.iter().enumerate() {
                let (j0, n) = (q * ROWS, ROWS.min(acts.len() - q * ROWS));
                let sums = &mut sums[..n];
                sums.fill([0.0; GROUP]);
                dot(self.group(g), &rows[..n], sums);
                for (i, sums) in sums.iter().enumerate() {
                    // SAFETY: row j0 + i < acts.len(), columns g·GROUP..+live < rows ≤ ldy: in
                    // bounds and this chunk's (the caller's contract).
                    let dst = unsafe { out.slice_mut((j0 + i) * ldy + g * GROUP, live) };
                    dst.copy_from_slice(&sums[..live]);
                }
            }
        }
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn blocks(&self) -> usize {
        self.blocks
    }

    pub(crate) fn record(&self) -> usize {
        self.record
    }

    /// Bytes held (about the file's blocks, plus padding rows).
    pub(crate) fn bytes(&self) -> usize {
        self.data.len()
    }
}
