//! llama.cpp's (ggml's) block formats for weights, and their exact dequantization — the reference
//! every SIMD kernel is tested against. Layouts follow ggml-common.h: all multi-byte fields are
//! little-endian, scales are IEEE half precision.

use half::f16;

/// The weight types a SmolVLM GGUF file may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightType {
    F32,
    F16,
    BF16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q4K,
    Q5K,
    Q6K,
}

pub const ALL_TYPES: [WeightType; 11] = [
    WeightType::F32,
    WeightType::F16,
    WeightType::BF16,
    WeightType::Q4_0,
    WeightType::Q4_1,
    WeightType::Q5_0,
    WeightType::Q5_1,
    WeightType::Q8_0,
    WeightType::Q4K,
    WeightType::Q5K,
    WeightType::Q6K,
];

/// Elements in a super-block of the k-quants.
pub const QK_K: usize = 256;

impl WeightType {
    /// Elements per block.
    pub fn block_len(self) -> usize {
        use WeightType::*;
        match self {
            F32 | F16 | BF16 => 1,
            Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 => 32,
            Q4K | Q5K | Q6K => QK_K,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        use WeightType::*;
        match self {
            F32 => 4,
            F16 | BF16 => 2,
            Q4_0 => 18,
            Q4_1 => 20,
            Q5_0 => 22,
            Q5_1 => 24,
            Q8_0 => 34,
            Q4K => 144,
            Q5K => 176,
            Q6K => 210,
        }
    }

    /// Bytes of a row of `len` elements; `None` when `len` is not a whole number of blocks.
    pub fn row_bytes(self, len: usize) -> Option<usize> {
        len.is_multiple_of(self.block_len())
            .then(|| len / self.block_len() * self.block_bytes())
    }

    pub fn is_quantized(self) -> bool {
        !matches!(self, WeightType::F32 | WeightType::F16 | WeightType::BF16)
    }

    pub fn name(self) -> &'static str {
        use WeightType::*;
        match self {
            F32 => "f32",
            F16 => "f16",
            BF16 => "bf16",
            Q4_0 => "q4_0",
            Q4_1 => "q4_1",
            Q5_0 => "q5_0",
            Q5_1 => "q5_1",
            Q8_0 => "q8_0",
            Q4K => "q4_k",
            Q5K => "q5_k",
            Q6K => "q6_k",
        }
    }
}

/// Every f16 value as f32 (256 KiB, built on first use).
pub(crate) fn f16_table() -> &'static [f32; 65536] {
    static TABLE: std::sync::OnceLock<Box<[f32; 65536]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([0f32; 65536]);
        for (i, v) in t.iter_mut().enumerate() {
            *v = f16::from_bits(i as u16).to_f32();
        }
        t
    })
}

#[inline(always)]
pub(crate) fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([b[at], b[at + 1]])).to_f32()
}

#[inline(always)]
pub(crate) fn f32_at(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The 6-bit scale and min of sub-block `j` (0..8) of a Q4_K/Q5_K super-block.
#[inline(always)]
pub(crate) fn k_scale_min(scales: &[u8], j: usize) -> (u8, u8) {
    if j < 4 {
        (scales[j] & 63, scales[j + 4] & 63)
    } else {
        (
            (scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4),
            (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4),
        )
    }
}

/// Dequantizes one row: `row` holds `out.len()` elements of type `ty`.
///
/// Panics when `row` is not exactly that many blocks (callers validate shapes at load).
pub fn dequantize_row(ty: WeightType, row: &[u8], out: &mut [f32]) {
    assert_eq!(
        Some(row.len()),
        ty.row_bytes(out.len()),
        "row of {} elements of {}",
        out.len(),
        ty.name()
    );
    let bb = ty.block_bytes();
    let bl = ty.block_len();
    for (b, y) in row.chunks_exact(bb).zip(out.chunks_exact_mut(bl)) {
        dequantize_block(ty, b, y);
    }
}

fn dequantize_block(ty: WeightType, b: &[u8], y: &mut [f32]) {
    use WeightType::*;
    match ty {
        F32 => y[0] = f32_at(b, 0),
        F16 => y[0] = f16_at(b, 0),
        BF16 => y[0] = half::bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32(),
        Q4_0 => {
            let d = f16_at(b, 0);
            for i in 0..16 {
                y[i] = ((b[2 + i] & 0x0f) as i32 - 8) as f32 * d;
                y[i + 16] = ((b[2 + i] >> 4) as i32 - 8) as f32 * d;
            }
        }
        Q4_1 => {
            let (d, m) = (f16_at(b, 0), f16_at(b, 2));
            for i in 0..16 {
                y[i] = (b[4 + i] & 0x0f) as f32 * d + m;
                y[i + 16] = (b[4 + i] >> 4) as f32 * d + m;
            }
        }
        Q5_0 => {
            let d = f16_at(b, 0);
            let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
            for i in 0..16 {
                let lo = (b[6 + i] & 0x0f) as u32 | (((qh >> i) & 1) << 4);
                let hi = (b[6 + i] >> 4) as u32 | (((qh >> (i + 16)) & 1) << 4);
                y[i] = (lo as i32 - 16) as f32 * d;
                y[i + 16] = (hi as i32 - 16) as f32 * d;
            }
        }
        Q5_1 => {
            let (d, m) = (f16_at(b, 0), f16_at(b, 2));
            let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            for i in 0..16 {
                let lo = (b[8 + i] & 0x0f) as u32 | (((qh >> i) & 1) << 4);
                let hi = (b[8 + i] >> 4) as u32 | (((qh >> (i + 16)) & 1) << 4);
                y[i] = lo as f32 * d + m;
                y[i + 16] = hi as f32 * d + m;
            }
        }
        Q8_0 => {
            let d = f16_at(b, 0);
            for i in 0..32 {
                y[i] = (b[2 + i] as i8) as f32 * d;
            }
        }
        Q4K => {
            let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
            let scales = &b[4..16];
            let qs = &b[16..144];
            for c in 0..4 {
                let (s1, m1) = k_scale_min(scales, 2 * c);
                let (s2, m2) = k_scale_min(scales, 2 * c + 1);
                let (d1, min1) = (d * s1 as f32, dmin * m1 as f32);
                let (d2, min2) = (d * s2 as f32, dmin * m2 as f32);
                for l in 0..32 {
                    let q = qs[32 * c + l];
                    y[64 * c + l] = d1 * (q & 0x0f) as f32 - min1;
                    y[64 * c + 32 + l] = d2 * (q >> 4) as f32 - min2;
                }
            }
        }
        Q5K => {
            let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
            let scales = &b[4..16];
            let qh = &b[16..48];
            let qs = &b[48..176];
            for c in 0..4 {
                let (s1, m1) = k_scale_min(scales, 2 * c);
                let (s2, m2) = k_scale_min(scales, 2 * c + 1);
                let (d1, min1) = (d * s1 as f32, dmin * m1 as f32);
                let (d2, min2) = (d * s2 as f32, dmin * m2 as f32);
                for l in 0..32 {
                    let q = qs[32 * c + l];
                    let h1 = ((qh[l] >> (2 * c)) & 1) << 4;
                    let h2 = ((qh[l] >> (2 * c + 1)) & 1) << 4;
                    y[64 * c + l] = d1 * ((q & 0x0f) | h1) as f32 - min1;
                    y[64 * c + 32 + l] = d2 * ((q >> 4) | h2) as f32 - min2;
                }
            }
        }
        Q6K => {
            let ql = &b[0..128];
            let qh = &b[128..192];
            let sc = &b[192..208];
            let d = f16_at(b, 208);
            for n in 0..2 {
                let (ql, qh, sc) = (&ql[64 * n..], &qh[32 * n..], &sc[8 * n..]);
                let y = &mut y[128 * n..];
                for l in 0..32 {
                    let is = l / 16;
                    let q1 = ((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) as i32 - 32;
                    let q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                    let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                    let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                    y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
                    y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
                    y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
                    y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
                }
            }
        }
    }
}
