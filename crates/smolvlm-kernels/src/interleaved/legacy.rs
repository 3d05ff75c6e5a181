//! The legacy 32-element formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) in the interleaved layout (the
//! table in the parent module): building it, reading rows back, and the portable form of the
//! 16-row dot product the AVX-512 VNNI kernel computes.

use half::f16;

use super::records::Records;
use crate::common::interleaved::{Form, GROUP, ROWS};
use crate::common::q8::Q8Block;
use crate::formats::WeightType;
use crate::send_ptr::SendPtr;

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
    /// # Safety
    /// As [`Records::run_chunk`].
    pub(crate) unsafe fn run_chunk(
        &self,
        c: usize,
        acts: &[Vec<Q8Block>],
        out: SendPtr,
        ldy: usize,
    ) {
        let dot = |recs: &[u8], a: &[&[Q8Block]], sums: &mut [[f32; GROUP]]| {
            self.group_dot(recs, a, sums)
        };
        // SAFETY: the caller's contract, passed on.
        unsafe { self.recs.run_chunk(c, acts, out, ldy, dot) }
    }

    /// Adds the group's 16 dot products with each activation row `acts[i]` to `sums[i]`.
    fn group_dot(&self, recs: &[u8], acts: &[&[Q8Block]], sums: &mut [[f32; GROUP]]) {
        assert!(
            acts.len() == sums.len() && (1..=ROWS).contains(&acts.len()),
            "interleaved rows"
        );
        let record = self.recs.record();
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::has_avx512_vnni() {
            // Checked, not wrapping: the kernel reads `a.len()` records through raw pointers.
            let fits = |a: &&[Q8Block]| {
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
                crate::arch::avx512::interleaved::group_dot(self.form, recs, record, acts, sums)
            };
            return;
        }
        // Only reached if a caller built this layout on a CPU without the kernel: same sums.
        let f = self.form;
        for (a, sums) in acts.iter().zip(sums.iter_mut()) {
            for (rec, a) in recs.chunks_exact(record).zip(a.iter()) {
                for (lane, s) in sums.iter_mut().enumerate() {
                    let h = |at: usize| {
                        f16::from_bits(u16::from_le_bytes([rec[at], rec[at + 1]])).to_f32()
                    };
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
