//! The k-quants (Q4_K, Q5_K, Q6_K) interleaved 16 rows at a time for AVX-512 VNNI, as the
//! legacy formats are (`super::legacy`): one record is one 256-weight super-block of 16 rows,
//! about the file's size. These are what a Q4_K_M of a 2048-wide model (SmolVLM-2.2B) is mostly
//! made of.
//!
//! Q4_K / Q5_K: `w = d·sc_j·u − dmin·m_j` over sub-blocks j of 32 (u: 4 or 5 bits, sc/m: 6 bits).
//!
//! | bytes | content |
//! |---|---|
//! | 32 + 32 | `d`, `dmin` of the 16 rows, f16 |
//! | 128 + 128 | `sc_j`, `m_j`: byte `16j + lane` |
//! | 512 | Q5_K only: the fifth bits, a 64-bit mask per (sub-block, operand), as the legacy Q5 |
//! | 2048 | codes: per sub-block, 4 × 64 bytes of nibble pairs, as the legacy 4-bit layout |
//!
//! Q6_K: `w = d·sc_i·(u − 32)` over sub-blocks i of 16 (u: 6 bits, sc: signed 8 bits).
//!
//! | bytes | content |
//! |---|---|
//! | 32 | `d` of the 16 rows, f16 |
//! | 256 | `sc_i`: byte `16i + lane` |
//! | 1024 | bits 4 and 5 of the codes: two 64-bit masks per (sub-block, operand) |
//! | 2048 | the codes' low nibbles: per sub-block, 2 × 64 bytes of nibble pairs |

use half::f16;

use super::records::Records;
use crate::common::interleaved::{
    GROUP, K6_HI, K6_SCALES, K45_DMIN, K45_HI, K45_MINS, K45_SCALES, KForm, ROWS,
};
use crate::common::q8::Q8KBlock;
use crate::formats::{QK_K, WeightType, k_scale_min};
use crate::send_ptr::SendPtr;

/// One super-block of a row: d, dmin bits, the sub-block scales and mins, 256 unsigned codes.
struct Unpacked {
    d: u16,
    dmin: u16,
    scales: [u8; 16],
    mins: [u8; 8],
    u: [u8; QK_K],
}

fn unpack_file_block(ty: WeightType, b: &[u8]) -> Unpacked {
    let h = |at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let mut out = Unpacked {
        d: 0,
        dmin: 0,
        scales: [0; 16],
        mins: [0; 8],
        u: [0; QK_K],
    };
    match ty {
        WeightType::Q4K | WeightType::Q5K => {
            out.d = h(0);
            out.dmin = h(2);
            for j in 0..8 {
                (out.scales[j], out.mins[j]) = k_scale_min(&b[4..16], j);
            }
            let (qh, qs) = if ty == WeightType::Q5K {
                (Some(&b[16..48]), &b[48..176])
            } else {
                (None, &b[16..144])
            };
            for c in 0..4 {
                for l in 0..32 {
                    let q = qs[32 * c + l];
                    out.u[64 * c + l] = q & 0x0f;
                    out.u[64 * c + 32 + l] = q >> 4;
                    if let Some(qh) = qh {
                        out.u[64 * c + l] |= ((qh[l] >> (2 * c)) & 1) << 4;
                        out.u[64 * c + 32 + l] |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
                    }
                }
            }
        }
        WeightType::Q6K => {
            out.d = h(208);
            out.scales.copy_from_slice(&b[192..208]);
            for n in 0..2 {
                let (ql, qh) = (&b[64 * n..], &b[128 + 32 * n..]);
                for l in 0..32 {
                    let e = 128 * n + l;
                    out.u[e] = (ql[l] & 0x0f) | ((qh[l] & 3) << 4);
                    out.u[e + 32] = (ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4);
                    out.u[e + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                    out.u[e + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
                }
            }
        }
        _ => unreachable!("no k-quant form for {}", ty.name()),
    }
    out
}

/// Writes row `lane`'s super-block into a record.
fn put(f: KForm, rec: &mut [u8], lane: usize, x: &Unpacked) {
    rec[2 * lane..2 * lane + 2].copy_from_slice(&x.d.to_le_bytes());
    let codes = f.codes_at();
    match f {
        KForm::K45 { five } => {
            rec[K45_DMIN + 2 * lane..K45_DMIN + 2 * lane + 2]
                .copy_from_slice(&x.dmin.to_le_bytes());
            for j in 0..8 {
                rec[K45_SCALES + 16 * j + lane] = x.scales[j];
                rec[K45_MINS + 16 * j + lane] = x.mins[j];
            }
            for (k, &u) in x.u.iter().enumerate() {
                let (j, o, t) = (k / 32, k % 32 / 4, k % 4);
                let byte = &mut rec[codes + 256 * j + 64 * (o / 2) + 4 * lane + t];
                *byte |= if o % 2 == 0 {
                    u & 0x0f
                } else {
                    (u & 0x0f) << 4
                };
                if five && u & 0x10 != 0 {
                    let at = K45_HI + 8 * (8 * j + o) + (4 * lane + t) / 8;
                    rec[at] |= 1 << ((4 * lane + t) % 8);
                }
            }
        }
        KForm::K6 => {
            for i in 0..16 {
                rec[K6_SCALES + 16 * i + lane] = x.scales[i];
            }
            for (k, &u) in x.u.iter().enumerate() {
                let (i, o, t) = (k / 16, k % 16 / 4, k % 4);
                let byte = &mut rec[codes + 128 * i + 64 * (o / 2) + 4 * lane + t];
                *byte |= if o % 2 == 0 {
                    u & 0x0f
                } else {
                    (u & 0x0f) << 4
                };
                for (h, bit) in [(0, 0x10), (1, 0x20)] {
                    if u & bit != 0 {
                        let at = K6_HI + 8 * (2 * (4 * i + o) + h) + (4 * lane + t) / 8;
                        rec[at] |= 1 << ((4 * lane + t) % 8);
                    }
                }
            }
        }
    }
}

/// Row `lane`'s code `k` of a record.
fn get(f: KForm, rec: &[u8], lane: usize, k: usize) -> u8 {
    let bit = |at: usize| (rec[at + (4 * lane + k % 4) / 8] >> ((4 * lane + k % 4) % 8)) & 1;
    let codes = f.codes_at();
    match f {
        KForm::K45 { five } => {
            let (j, o, t) = (k / 32, k % 32 / 4, k % 4);
            let byte = rec[codes + 256 * j + 64 * (o / 2) + 4 * lane + t];
            let mut u = if o % 2 == 0 { byte & 0x0f } else { byte >> 4 };
            if five {
                u |= bit(K45_HI + 8 * (8 * j + o)) << 4;
            }
            u
        }
        KForm::K6 => {
            let (i, o, t) = (k / 16, k % 16 / 4, k % 4);
            let byte = rec[codes + 128 * i + 64 * (o / 2) + 4 * lane + t];
            let u = if o % 2 == 0 { byte & 0x0f } else { byte >> 4 };
            u | bit(K6_HI + 8 * (2 * (4 * i + o))) << 4
                | bit(K6_HI + 8 * (2 * (4 * i + o) + 1)) << 5
        }
    }
}

/// A k-quant matrix in the interleaved layout.
pub(crate) struct InterleavedK {
    form: KForm,
    recs: Records,
}

impl InterleavedK {
    /// Re-lays out `rows` rows of `ty` (`row_of(r)`: row r in the file's layout); `None` for
    /// other formats.
    pub(crate) fn new<'a>(
        ty: WeightType,
        rows: usize,
        cols: usize,
        row_of: impl Fn(usize) -> &'a [u8] + Sync,
    ) -> Option<Self> {
        let form = KForm::of(ty)?;
        let bb = ty.block_bytes();
        let recs = Records::build(rows, cols / QK_K, form.record_bytes(), |rec, lane, r, b| {
            put(
                form,
                rec,
                lane,
                &unpack_file_block(ty, &row_of(r)[b * bb..(b + 1) * bb]),
            );
        });
        Some(Self { form, recs })
    }

    fn records(&self, group: usize) -> &[u8] {
        self.recs.group(group)
    }

    /// Row `r` as f32, equal to the file's dequantization.
    pub(crate) fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        let (g, lane) = (r / GROUP, r % GROUP);
        for (rec, y) in self
            .records(g)
            .chunks_exact(self.recs.record())
            .zip(out.chunks_exact_mut(QK_K))
        {
            let mut u = [0u8; QK_K];
            for (k, u) in u.iter_mut().enumerate() {
                *u = get(self.form, rec, lane, k);
            }
            self.weights(rec, lane, &u, y);
        }
    }

    /// Rows `r0..r0 + n` as f32 into `out` (n × cols): whole groups at a time where they
    /// align (a GEMM panel is two groups), unpacking each record's codes in one pass.
    pub(crate) fn dequantize_rows(&self, r0: usize, n: usize, out: &mut [f32]) {
        let cols = self.recs.blocks() * QK_K;
        let mut r = r0;
        while r < r0 + n {
            let at = (r - r0) * cols;
            if r.is_multiple_of(GROUP) && r + GROUP <= (r0 + n).min(self.recs.rows()) {
                let rows = &mut out[at..at + GROUP * cols];
                for (b, rec) in self
                    .records(r / GROUP)
                    .chunks_exact(self.recs.record())
                    .enumerate()
                {
                    let u = self.unpack_group(rec);
                    for (lane, u) in u.iter().enumerate() {
                        let y = &mut rows[lane * cols + b * QK_K..lane * cols + (b + 1) * QK_K];
                        self.weights(rec, lane, u, y);
                    }
                }
                r += GROUP;
            } else {
                self.dequantize_row(r, &mut out[at..at + cols]);
                r += 1;
            }
        }
    }

    /// Every lane's 256 codes of a record.
    fn unpack_group(&self, rec: &[u8]) -> [[u8; QK_K]; GROUP] {
        let mut u = [[0u8; QK_K]; GROUP];
        let codes = &rec[self.form.codes_at()..];
        // Sub-blocks of 32 (Q4_K/Q5_K) or 16 (Q6_K) weights, each 4 or 2 chunks of nibble pairs.
        let (sub, chunks) = match self.form {
            KForm::K45 { .. } => (32, 4),
            KForm::K6 => (16, 2),
        };
        for s in 0..QK_K / sub {
            for p in 0..chunks {
                let chunk = &codes[64 * (chunks * s + p)..64 * (chunks * s + p + 1)];
                for (lane, u) in u.iter_mut().enumerate() {
                    for t in 0..4 {
                        let byte = chunk[4 * lane + t];
                        u[sub * s + 8 * p + t] = byte & 0x0f;
                        u[sub * s + 8 * p + 4 + t] = byte >> 4;
                    }
                }
            }
        }
        let mask = |at: usize| u64::from_le_bytes(rec[at..at + 8].try_into().expect("8 bytes"));
        let mut add_bits = |k0: usize, m: u64, shift: u8| {
            for (lane, u) in u.iter_mut().enumerate() {
                for t in 0..4 {
                    u[k0 + t] |= (((m >> (4 * lane + t)) & 1) as u8) << shift;
                }
            }
        };
        match self.form {
            KForm::K45 { five: true } => {
                for j in 0..8 {
                    for o in 0..8 {
                        add_bits(32 * j + 4 * o, mask(K45_HI + 8 * (8 * j + o)), 4);
                    }
                }
            }
            KForm::K45 { five: false } => {}
            KForm::K6 => {
                for i in 0..16 {
                    for o in 0..4 {
                        let at = K6_HI + 8 * (2 * (4 * i + o));
                        add_bits(16 * i + 4 * o, mask(at), 4);
                        add_bits(16 * i + 4 * o, mask(at + 8), 5);
                    }
                }
            }
        }
        u
    }

    /// Row `lane`'s weights of a record from its codes, computed as the file's dequantization
    /// computes them, to the bit.
    fn weights(&self, rec: &[u8], lane: usize, u: &[u8; QK_K], y: &mut [f32]) {
        let h = |at: usize| f16::from_bits(u16::from_le_bytes([rec[at], rec[at + 1]])).to_f32();
        let d = h(2 * lane);
        match self.form {
            KForm::K45 { .. } => {
                let dmin = h(K45_DMIN + 2 * lane);
                for j in 0..8 {
                    let sc = rec[K45_SCALES + 16 * j + lane];
                    let m = rec[K45_MINS + 16 * j + lane];
                    let (d1, min1) = (d * sc as f32, dmin * m as f32);
                    for k in 32 * j..32 * (j + 1) {
                        y[k] = d1 * u[k] as f32 - min1;
                    }
                }
            }
            KForm::K6 => {
                for (k, y) in y.iter_mut().enumerate() {
                    let sc = rec[K6_SCALES + 16 * (k / 16) + lane] as i8;
                    *y = d * sc as f32 * (u[k] as i32 - 32) as f32;
                }
            }
        }
    }

    pub(crate) fn chunks(&self) -> usize {
        self.recs.chunks()
    }

    /// Writes chunk `c` of `acts · Wᵀ` (see [`Records::run_chunk`]).
    ///
    /// # Safety
    /// As [`Records::run_chunk`].
    pub(crate) unsafe fn run_chunk(
        &self,
        c: usize,
        acts: &[Vec<Q8KBlock>],
        out: SendPtr,
        ldy: usize,
    ) {
        let dot = |recs: &[u8], a: &[&[Q8KBlock]], sums: &mut [[f32; GROUP]]| {
            self.group_dot(recs, a, sums)
        };
        // SAFETY: the caller's contract, passed on.
        unsafe { self.recs.run_chunk(c, acts, out, ldy, dot) }
    }

    /// Adds the group's 16 dot products with each activation row `acts[i]` to `sums[i]`.
    fn group_dot(&self, recs: &[u8], acts: &[&[Q8KBlock]], sums: &mut [[f32; GROUP]]) {
        assert!(
            acts.len() == sums.len() && (1..=ROWS).contains(&acts.len()),
            "interleaved rows"
        );
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::has_avx512_vnni() {
            let record = self.recs.record();
            // Checked, not wrapping: the kernel reads `a.len()` records through raw pointers.
            let fits = |a: &&[Q8KBlock]| {
                a.len()
                    .checked_mul(record)
                    .is_some_and(|need| recs.len() >= need)
            };
            assert!(
                acts.iter().all(fits) && record == self.form.record_bytes(),
                "interleaved records"
            );
            // SAFETY: the CPU has AVX-512 F, BW and VNNI (checked above); `recs` holds
            // `a.len()` records of this form for every row, 1 to ROWS of them (asserted).
            unsafe {
                crate::arch::avx512::interleaved::group_dot_k(self.form, recs, record, acts, sums)
            };
            return;
        }
        for (a, sums) in acts.iter().zip(sums.iter_mut()) {
            self.portable_dot(recs, a, sums);
        }
    }

    /// The portable form of one activation row's [`Self::group_dot`].
    fn portable_dot(&self, recs: &[u8], a: &[Q8KBlock], sums: &mut [f32; GROUP]) {
        let record = self.recs.record();
        // Only reached if a caller built this layout on a CPU without the kernel: same sums.
        for (rec, a) in recs.chunks_exact(record).zip(a) {
            for (lane, s) in sums.iter_mut().enumerate() {
                let h =
                    |at: usize| f16::from_bits(u16::from_le_bytes([rec[at], rec[at + 1]])).to_f32();
                let dot = |range: std::ops::Range<usize>| -> i32 {
                    range
                        .map(|k| get(self.form, rec, lane, k) as i32 * a.q[k] as i32)
                        .sum()
                };
                match self.form {
                    KForm::K45 { .. } => {
                        let (mut isum, mut msum) = (0i32, 0i32);
                        for j in 0..8 {
                            isum +=
                                rec[K45_SCALES + 16 * j + lane] as i32 * dot(32 * j..32 * j + 32);
                            let b = a.bsums[2 * j] as i32 + a.bsums[2 * j + 1] as i32;
                            msum += rec[K45_MINS + 16 * j + lane] as i32 * b;
                        }
                        *s += isum as f32 * (h(2 * lane) * a.d)
                            - msum as f32 * (h(K45_DMIN + 2 * lane) * a.d);
                    }
                    KForm::K6 => {
                        let mut isum = 0i32;
                        for i in 0..16 {
                            let sub = dot(16 * i..16 * i + 16) - 32 * a.bsums[i] as i32;
                            isum += rec[K6_SCALES + 16 * i + lane] as i8 as i32 * sub;
                        }
                        *s += isum as f32 * (h(2 * lane) * a.d);
                    }
                }
            }
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        self.recs.bytes()
    }
}
