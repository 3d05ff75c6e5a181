//! Quantized weights re-laid out for AVX-512 VNNI matrix–vector products.
//!
//! In the file's layout each row is a run of blocks, and a dot product per row ends in a
//! horizontal sum and a scalar scale per block: ~12 cycles per 32-weight block here, which made
//! decoding compute-bound. Interleaving 16 rows block by block lets one `vpdpbusd` multiply four
//! weights of each of 16 rows with the same four activations, every lane accumulating its own
//! row: a block of 16 rows is 8 such instructions, one conversion and one FMA with the 16 rows'
//! scales, and the product becomes bound by reading the weights.
//!
//! The legacy 32-element formats share one layout of unsigned codes `u` (what `vpdpbusd` takes):
//! `w = d·(u + c)` for Q8_0 (u = q + 128, c = −128), Q4_0 (c = −8) and Q5_0 (c = −16), and
//! `w = d·u + m` for Q4_1 and Q5_1. A record holds one block of 16 rows, at the file's size:
//!
//! | bytes | content |
//! |---|---|
//! | 32 | `d` of the 16 rows, f16 |
//! | 32 | `m` of the 16 rows, f16 (Q4_1, Q5_1) |
//! | 64 | 5-bit codes: eight 64-bit masks, bit `4i + t` = bit 4 of row i's code `4o + t` (mask o) |
//! | 512 / 256 | codes: operand `o` (weights `4o..4o + 4`) has row i's four codes at bytes `4i..4i + 4`; 8-bit codes store the 8 operands, 4/5-bit ones pack operands `2p` and `2p + 1` as the low and high nibbles of 64 bytes |
//!
//! The records of a group of 16 rows follow each other, so a thread streams its rows' bytes in
//! order. Rows past the last are zero (scale 0) and never stored.

#[cfg(target_arch = "x86_64")]
mod avx512;
mod kquants;

pub(crate) use kquants::InterleavedK;

use half::f16;

use crate::act::Q8Block;
use crate::formats::WeightType;
use crate::pool::parallel;

/// Rows interleaved in a record: one 512-bit lane each.
pub(crate) const GROUP: usize = 16;

/// How a format's weights map onto the shared layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Form {
    /// Code width: 4, 5 or 8.
    pub bits: u8,
    /// Whether blocks carry a min (`w = d·u + m`) rather than a fixed offset.
    pub min: bool,
    /// The fixed offset `c` of `w = d·(u + c)`.
    pub offset: i32,
}

impl Form {
    pub(crate) fn of(ty: WeightType) -> Option<Self> {
        use WeightType::*;
        let (bits, min, offset) = match ty {
            Q8_0 => (8, false, -128),
            Q4_0 => (4, false, -8),
            Q4_1 => (4, true, 0),
            Q5_0 => (5, false, -16),
            Q5_1 => (5, true, 0),
            _ => return None,
        };
        Some(Form { bits, min, offset })
    }

    fn m_at(self) -> usize {
        32
    }

    fn hi_at(self) -> usize {
        32 + if self.min { 32 } else { 0 }
    }

    fn codes_at(self) -> usize {
        self.hi_at() + if self.bits == 5 { 64 } else { 0 }
    }

    fn record_bytes(self) -> usize {
        self.codes_at() + if self.bits == 8 { 512 } else { 256 }
    }
}

/// Whether this CPU runs the interleaved kernels (AVX-512 F, BW and VNNI: Ice Lake, Sapphire
/// Rapids, Zen 4 and later).
pub(crate) fn supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *OK.get_or_init(|| {
            is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// One block of a legacy format as (d bits, m bits, unsigned codes).
fn codes(ty: WeightType, b: &[u8]) -> (u16, u16, [u8; 32]) {
    use WeightType::*;
    let h = |at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let mut u = [0u8; 32];
    let nibbles = |u: &mut [u8; 32], qs: &[u8]| {
        for i in 0..16 {
            u[i] = qs[i] & 0x0f;
            u[i + 16] = qs[i] >> 4;
        }
    };
    let fifth = |u: &mut [u8; 32], qh: &[u8]| {
        let qh = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
        for (j, u) in u.iter_mut().enumerate() {
            *u |= (((qh >> j) & 1) << 4) as u8;
        }
    };
    match ty {
        Q8_0 => {
            for (u, &q) in u.iter_mut().zip(&b[2..34]) {
                *u = q ^ 0x80;
            }
            (h(0), 0, u)
        }
        Q4_0 => {
            nibbles(&mut u, &b[2..18]);
            (h(0), 0, u)
        }
        Q4_1 => {
            nibbles(&mut u, &b[4..20]);
            (h(0), h(2), u)
        }
        Q5_0 => {
            nibbles(&mut u, &b[6..22]);
            fifth(&mut u, &b[2..6]);
            (h(0), 0, u)
        }
        Q5_1 => {
            nibbles(&mut u, &b[8..24]);
            fifth(&mut u, &b[4..8]);
            (h(0), h(2), u)
        }
        _ => unreachable!("no interleaved form for {}", ty.name()),
    }
}

/// Records of 16 rows, group after group: the storage and threading both interleaved layouts
/// share.
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
        let dst = SendPtr(data.as_mut_ptr());
        parallel(groups, &|g| {
            // Safety: group g owns bytes [g·blocks·record, (g + 1)·blocks·record) of `data`.
            let group = unsafe {
                std::slice::from_raw_parts_mut(dst.at(g * blocks * record), blocks * record)
            };
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

    /// Groups of rows per chunk: ~40 KiB of weights at SmolLM2's widths, few enough chunks that
    /// the shared counter costs nothing, enough that late threads still find work.
    fn per_chunk(&self) -> usize {
        (4096 / (self.blocks * self.record / 10 + 1)).clamp(1, 8)
    }

    pub(crate) fn chunks(&self) -> usize {
        self.rows.div_ceil(GROUP).div_ceil(self.per_chunk())
    }

    /// Writes chunk `c` of `acts · Wᵀ` — `out[j·ldy + r]` for the chunk's rows r — with
    /// `dot(records, activations, sums)` adding a group's 16 dot products to `sums`.
    ///
    /// Safety: `out` holds `acts.len()` rows of `ldy ≥ rows` floats, and nobody else writes
    /// this chunk's elements.
    pub(crate) unsafe fn run_chunk<A>(
        &self,
        c: usize,
        acts: &[Vec<A>],
        out: *mut f32,
        ldy: usize,
        dot: impl Fn(&[u8], &[A], &mut [f32; GROUP]),
    ) {
        let (per_chunk, groups) = (self.per_chunk(), self.rows.div_ceil(GROUP));
        for g in c * per_chunk..((c + 1) * per_chunk).min(groups) {
            let live = GROUP.min(self.rows - g * GROUP);
            for (j, a) in acts.iter().enumerate() {
                debug_assert_eq!(a.len(), self.blocks);
                let mut sums = [0f32; GROUP];
                dot(self.group(g), a, &mut sums);
                // Safety: in bounds and this chunk's (the caller's contract).
                let dst =
                    unsafe { std::slice::from_raw_parts_mut(out.add(j * ldy + g * GROUP), live) };
                dst.copy_from_slice(&sums[..live]);
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

/// A quantized matrix in the interleaved layout.
pub(crate) struct Interleaved {
    form: Form,
    recs: Records,
}

impl Interleaved {
    /// Re-lays out `rows` rows of `ty` (`row_of(r)`: row r in the file's layout). `None` for
    /// formats without an interleaved form.
    pub(crate) fn new<'a>(
        ty: WeightType,
        rows: usize,
        cols: usize,
        row_of: impl Fn(usize) -> &'a [u8] + Sync,
    ) -> Option<Self> {
        let form = Form::of(ty)?;
        let bb = ty.block_bytes();
        let recs = Records::build(rows, cols / 32, form.record_bytes(), |rec, lane, r, b| {
            let (d, m, u) = codes(ty, &row_of(r)[b * bb..(b + 1) * bb]);
            put(form, rec, lane, d, m, &u);
        });
        Some(Self { form, recs })
    }

    fn records(&self, group: usize) -> &[u8] {
        self.recs.group(group)
    }

    /// Row `r` as f32, equal to the file's dequantization.
    pub(crate) fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        let (g, lane) = (r / GROUP, r % GROUP);
        let f = self.form;
        for (rec, y) in self
            .records(g)
            .chunks_exact(self.recs.record())
            .zip(out.chunks_exact_mut(32))
        {
            let h = |at: usize| f16::from_bits(u16::from_le_bytes([rec[at], rec[at + 1]])).to_f32();
            let d = h(2 * lane);
            let m = if f.min { h(f.m_at() + 2 * lane) } else { 0.0 };
            for (k, y) in y.iter_mut().enumerate() {
                let u = get(f, rec, lane, k) as i32;
                *y = if f.min {
                    u as f32 * d + m
                } else {
                    (u + f.offset) as f32 * d
                };
            }
        }
    }

    /// Rows `r0..r0 + n` as f32 into `out` (n × cols): whole groups at a time where they
    /// align (a GEMM panel is two groups), which decodes each record's scales once.
    pub(crate) fn dequantize_rows(&self, r0: usize, n: usize, out: &mut [f32]) {
        let cols = self.recs.blocks() * 32;
        let mut r = r0;
        while r < r0 + n {
            let at = (r - r0) * cols;
            if r.is_multiple_of(GROUP) && r + GROUP <= (r0 + n).min(self.recs.rows()) {
                self.dequantize_group(r / GROUP, &mut out[at..at + GROUP * cols]);
                r += GROUP;
            } else {
                self.dequantize_row(r, &mut out[at..at + cols]);
                r += 1;
            }
        }
    }

    /// The 16 rows of group `g` (16 × cols).
    fn dequantize_group(&self, g: usize, out: &mut [f32]) {
        let f = self.form;
        let cols = self.recs.blocks() * 32;
        let codes_at = f.codes_at();
        for (b, rec) in self.records(g).chunks_exact(self.recs.record()).enumerate() {
            let h = |at: usize| f16::from_bits(u16::from_le_bytes([rec[at], rec[at + 1]])).to_f32();
            let mut u = [[0u8; 32]; GROUP];
            let codes = &rec[codes_at..];
            for o in 0..8 {
                for (lane, u) in u.iter_mut().enumerate() {
                    for t in 0..4 {
                        u[4 * o + t] = match f.bits {
                            8 => codes[64 * o + 4 * lane + t],
                            _ => {
                                let byte = codes[64 * (o / 2) + 4 * lane + t];
                                if o % 2 == 0 { byte & 0x0f } else { byte >> 4 }
                            }
                        };
                    }
                }
                if f.bits == 5 {
                    let at = f.hi_at() + 8 * o;
                    let mask = u64::from_le_bytes(rec[at..at + 8].try_into().expect("8 bytes"));
                    for (lane, u) in u.iter_mut().enumerate() {
                        for t in 0..4 {
                            u[4 * o + t] |= (((mask >> (4 * lane + t)) & 1) as u8) << 4;
                        }
                    }
                }
            }
            for (lane, u) in u.iter().enumerate() {
                let d = h(2 * lane);
                let y = &mut out[lane * cols + 32 * b..lane * cols + 32 * (b + 1)];
                if f.min {
                    let m = h(f.m_at() + 2 * lane);
                    for (y, &u) in y.iter_mut().zip(u) {
                        *y = u as f32 * d + m;
                    }
                } else {
                    for (y, &u) in y.iter_mut().zip(u) {
                        *y = (u as i32 + f.offset) as f32 * d;
                    }
                }
            }
        }
    }

    pub(crate) fn chunks(&self) -> usize {
        self.recs.chunks()
    }

    /// Writes chunk `c` of `acts · Wᵀ` (see [`Records::run_chunk`]).
    ///
    /// Safety: as [`Records::run_chunk`].
    pub(crate) unsafe fn run_chunk(
        &self,
        c: usize,
        acts: &[Vec<Q8Block>],
        out: *mut f32,
        ldy: usize,
    ) {
        let dot =
            |recs: &[u8], a: &[Q8Block], sums: &mut [f32; GROUP]| self.group_dot(recs, a, sums);
        unsafe { self.recs.run_chunk(c, acts, out, ldy, dot) }
    }

    fn group_dot(&self, recs: &[u8], a: &[Q8Block], sums: &mut [f32; GROUP]) {
        let record = self.recs.record();
        #[cfg(target_arch = "x86_64")]
        if supported() {
            // Safety: the CPU has the features (checked above); `recs` holds `blocks` records of
            // this form and `a` as many activation blocks.
            unsafe { avx512::group_dot(self.form, recs, record, a, sums) };
            return;
        }
        // Only reached if a caller built this layout on a CPU without the kernel: same sums.
        let f = self.form;
        for (rec, a) in recs.chunks_exact(record).zip(a) {
            for (lane, s) in sums.iter_mut().enumerate() {
                let h =
                    |at: usize| f16::from_bits(u16::from_le_bytes([rec[at], rec[at + 1]])).to_f32();
                let dot: i32 = (0..32)
                    .map(|k| get(f, rec, lane, k) as i32 * a.q[k] as i32)
                    .sum::<i32>()
                    + f.offset * a.sum;
                *s += dot as f32 * (h(2 * lane) * a.d);
                if f.min {
                    *s += h(f.m_at() + 2 * lane) * (a.d * a.sum as f32);
                }
            }
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        self.recs.bytes()
    }
}

/// Writes row `lane`'s block into a record.
fn put(f: Form, rec: &mut [u8], lane: usize, d: u16, m: u16, u: &[u8; 32]) {
    rec[2 * lane..2 * lane + 2].copy_from_slice(&d.to_le_bytes());
    if f.min {
        rec[f.m_at() + 2 * lane..f.m_at() + 2 * lane + 2].copy_from_slice(&m.to_le_bytes());
    }
    let codes = f.codes_at();
    for (k, &u) in u.iter().enumerate() {
        let (o, t) = (k / 4, k % 4);
        if f.bits == 8 {
            rec[codes + 64 * o + 4 * lane + t] = u;
            continue;
        }
        let byte = &mut rec[codes + 64 * (o / 2) + 4 * lane + t];
        *byte |= if o % 2 == 0 {
            u & 0x0f
        } else {
            (u & 0x0f) << 4
        };
        if f.bits == 5 && u & 0x10 != 0 {
            let at = f.hi_at() + 8 * o + (4 * lane + t) / 8;
            rec[at] |= 1 << ((4 * lane + t) % 8);
        }
    }
}

/// Row `lane`'s code `k` of a record.
fn get(f: Form, rec: &[u8], lane: usize, k: usize) -> u8 {
    let (o, t) = (k / 4, k % 4);
    let codes = f.codes_at();
    if f.bits == 8 {
        return rec[codes + 64 * o + 4 * lane + t];
    }
    let byte = rec[codes + 64 * (o / 2) + 4 * lane + t];
    let mut u = if o % 2 == 0 { byte & 0x0f } else { byte >> 4 };
    if f.bits == 5 {
        let at = f.hi_at() + 8 * o + (4 * lane + t) / 8;
        u |= ((rec[at] >> ((4 * lane + t) % 8)) & 1) << 4;
    }
    u
}

struct SendPtr<T>(*mut T);
// Safety: threads write disjoint elements through it, and the caller waits for all of them.
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// Safety: `i` is in bounds of the buffer.
    unsafe fn at(&self, i: usize) -> *mut T {
        unsafe { self.0.add(i) }
    }
}
