//! A port of Pillow's `Image.resize` for 8-bit RGB images (`src/libImaging/Resample.c`, Pillow 13).
//!
//! transformers' PIL backend resizes with Pillow, so to get the same uint8 frames we must round
//! exactly where Pillow rounds: filter weights are computed in `f64`, turned into 22-bit fixed
//! point, and the image is convolved in integers, one axis after the other in the order Pillow picks.
//! NEAREST is not a convolution in Pillow but an affine transform with its own rounding; it is
//! ported separately at the end.

use image::RgbImage;

/// Pillow's resampling filters, numbered as `PIL.Image.Resampling` (and `resample` in
/// `preprocessor_config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Nearest = 0,
    Lanczos = 1,
    Bilinear = 2,
    Bicubic = 3,
    Box = 4,
    Hamming = 5,
}

impl Filter {
    /// The filter for a PIL resample id, `None` for ids Pillow does not have.
    pub fn from_pil(id: u32) -> Option<Self> {
        Some(match id {
            0 => Filter::Nearest,
            1 => Filter::Lanczos,
            2 => Filter::Bilinear,
            3 => Filter::Bicubic,
            4 => Filter::Box,
            5 => Filter::Hamming,
            _ => return None,
        })
    }

    /// Half-width of the kernel at scale 1.
    fn support(self) -> f64 {
        match self {
            Filter::Nearest | Filter::Box => 0.5,
            Filter::Bilinear | Filter::Hamming => 1.0,
            Filter::Bicubic => 2.0,
            Filter::Lanczos => 3.0,
        }
    }

    /// The kernel, written as Pillow writes it so the `f64` results agree to the last bit.
    fn weight(self, x: f64) -> f64 {
        match self {
            // Half-open so that neighbouring boxes never both claim a sample.
            Filter::Nearest | Filter::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Filter::Bilinear => {
                let x = x.abs();
                if x < 1.0 { 1.0 - x } else { 0.0 }
            }
            Filter::Hamming => {
                let x = x.abs();
                if x == 0.0 {
                    1.0
                } else if x >= 1.0 {
                    0.0
                } else {
                    let x = x * std::f64::consts::PI;
                    x.sin() / x * (0.54 + 0.46 * x.cos())
                }
            }
            Filter::Bicubic => {
                // Pillow's cubic uses a = -0.5 (Keys), not the -0.75 some libraries use.
                const A: f64 = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Filter::Lanczos => {
                // Lanczos-3: the kernel is zero outside [-3, 3), half-open like Pillow's.
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * std::f64::consts::PI;
        x.sin() / x
    }
}

/// Fixed-point weights carry 22 fractional bits: 8 bits of pixel and 2 bits of headroom for the
/// negative lobes still fit the `i32` accumulator.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per-output-pixel convolution windows along one axis.
struct Coeffs {
    /// Taps reserved per output pixel (`weights` stride).
    ksize: usize,
    /// `(first input index, number of taps)` per output pixel.
    bounds: Vec<(usize, usize)>,
    /// Fixed-point weights, `ksize` per output pixel.
    weights: Vec<i32>,
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for a full-image box (`0..in_size`).
fn precompute_coeffs(in_size: usize, out_size: usize, filter: Filter) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    // When downscaling the kernel is stretched so that every input pixel contributes.
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let ss = 1.0 / filterscale;

    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    for (xx, row) in weights.chunks_exact_mut(ksize).enumerate() {
        let center = (xx as f64 + 0.5) * scale;
        // C's `(int)` truncates toward zero; a negative start is clamped to 0 right after, so
        // truncation vs floor does not matter there.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = xmax.saturating_sub(xmin).min(ksize);
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(n) {
            let w = filter.weight((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        for (kx, out) in k.iter().zip(row.iter_mut()).take(n) {
            let w = if ww != 0.0 { kx / ww } else { *kx };
            // Round half away from zero, then truncate, as `normalize_coeffs_8bpc` does.
            let scaled = w * f64::from(1u32 << PRECISION_BITS);
            *out = if w < 0.0 {
                (scaled - 0.5) as i32
            } else {
                (scaled + 0.5) as i32
            };
        }
        bounds.push((xmin, n));
    }
    Coeffs {
        ksize,
        bounds,
        weights,
    }
}

/// Fixed-point accumulator to `u8`: the start value `1 << (PRECISION_BITS - 1)` already added
/// the rounding half, so the shift rounds to nearest.
#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Horizontal pass over input rows `first_row..first_row + rows` (only the rows the vertical pass
/// will read; the result's row 0 is input row `first_row`).
fn resample_horizontal(
    src: &[u8],
    src_w: usize,
    first_row: usize,
    rows: usize,
    c: &Coeffs,
) -> Vec<u8> {
    let out_w = c.bounds.len();
    let mut out = vec![0u8; out_w * rows * 3];
    for (y, out_row) in out.chunks_exact_mut(out_w * 3).enumerate() {
        let start = (first_row + y) * src_w * 3;
        let in_row = &src[start..start + src_w * 3];
        for (xx, px) in out_row.chunks_exact_mut(3).enumerate() {
            let (xmin, n) = c.bounds[xx];
            let k = &c.weights[xx * c.ksize..xx * c.ksize + n];
            let taps = &in_row[xmin * 3..(xmin + n) * 3];
            let (mut r, mut g, mut b) = (HALF, HALF, HALF);
            for (s, &w) in taps.chunks_exact(3).zip(k) {
                r += i32::from(s[0]) * w;
                g += i32::from(s[1]) * w;
                b += i32::from(s[2]) * w;
            }
            px[0] = clip8(r);
            px[1] = clip8(g);
            px[2] = clip8(b);
        }
    }
    out
}

/// Vertical pass. Pillow loops pixel by pixel down the columns; accumulating whole rows instead
/// is cache-friendly and gives the same integers (the sums are exact, order does not matter).
fn resample_vertical(src: &[u8], width: usize, c: &Coeffs) -> Vec<u8> {
    let row_len = width * 3;
    let out_h = c.bounds.len();
    let mut out = vec![0u8; row_len * out_h];
    let mut acc = vec![0i32; row_len];
    for (yy, out_row) in out.chunks_exact_mut(row_len).enumerate() {
        let (ymin, n) = c.bounds[yy];
        let k = &c.weights[yy * c.ksize..yy * c.ksize + n];
        acc.fill(HALF);
        for (y, &w) in k.iter().enumerate() {
            let start = (ymin + y) * row_len;
            for (a, &s) in acc.iter_mut().zip(&src[start..start + row_len]) {
                *a += i32::from(s) * w;
            }
        }
        for (o, &a) in out_row.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    out
}

/// Pillow's `Image.resize(size, filter)` on an RGB image. A zero target side gives an empty
/// image.
pub fn resize(img: &RgbImage, width: u32, height: u32, filter: Filter) -> RgbImage {
    let (in_w, in_h) = img.dimensions();
    if (in_w, in_h) == (width, height) {
        // `Image.resize` returns a copy when the size does not change.
        return img.clone();
    }
    if width == 0 || height == 0 || in_w == 0 || in_h == 0 {
        return RgbImage::new(width, height);
    }
    if filter == Filter::Nearest {
        return resize_nearest(img, width, height);
    }
    let (in_w, in_h, out_w, out_h) = (
        in_w as usize,
        in_h as usize,
        width as usize,
        height as usize,
    );
    resize_ordered(
        img,
        out_w,
        out_h,
        filter,
        vertical_first(in_w, in_h, out_w, out_h),
    )
}

/// Pillow 13's pass order (`ImagingResampleInner`): when the height shrinks by more than twice
/// as many pixels as the width does, the vertical pass runs first (to make the horizontal one
/// cheaper). The order changes the rounding of the intermediate image, so it must be the same.
/// The comparison is Pillow's, in signed pixel counts: a widened width counts as negative.
fn vertical_first(in_w: usize, in_h: usize, out_w: usize, out_h: usize) -> bool {
    let shrink_h = in_h as i64 - out_h as i64;
    let shrink_w = in_w as i64 - out_w as i64;
    shrink_h > 0 && shrink_h > shrink_w * 2
}

/// Both passes in the given order (the result is the same integers Pillow computes for that order).
fn resize_ordered(
    img: &RgbImage,
    out_w: usize,
    out_h: usize,
    filter: Filter,
    vertical_first: bool,
) -> RgbImage {
    let (in_w, in_h) = (img.width() as usize, img.height() as usize);
    let horiz = precompute_coeffs(in_w, out_w, filter);
    let mut vert = precompute_coeffs(in_h, out_h, filter);
    let src: &[u8] = img.as_raw();
    let data = if vertical_first {
        let tmp = if out_h != in_h {
            resample_vertical(src, in_w, &vert)
        } else {
            src.to_vec()
        };
        if out_w != in_w {
            resample_horizontal(&tmp, in_w, 0, out_h, &horiz)
        } else {
            tmp
        }
    } else {
        // A pass runs only when its dimension changes, as in `ImagingResampleInner`.
        let data = if out_w != in_w {
            // Only the input rows that some output row reads need the horizontal pass.
            let first = vert.bounds[0].0;
            let (lmin, ln) = vert.bounds[out_h - 1];
            let last = lmin + ln;
            for b in &mut vert.bounds {
                b.0 -= first;
            }
            resample_horizontal(src, in_w, first, last - first, &horiz)
        } else {
            src.to_vec()
        };
        if out_h != in_h {
            resample_vertical(&data, out_w, &vert)
        } else {
            data
        }
    };
    RgbImage::from_raw(out_w as u32, out_h as u32, data)
        .expect("resampled buffer has the target size")
}

/// Pillow's NEAREST resize: `ImagingScaleAffine` with the matrix `ImagingResample` builds. The
/// source coordinate is accumulated in `f64` one step per pixel (not multiplied), so the
/// rounding of Pillow's running sum is reproduced by running the same sum.
fn resize_nearest(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (in_w, in_h) = img.dimensions();
    let positions = |in_size: u32, out_size: u32| -> Vec<usize> {
        let a = f64::from(in_size) / f64::from(out_size);
        let mut pos = a * 0.5;
        (0..out_size)
            .map(|_| {
                let p = (pos as usize).min(in_size as usize - 1);
                pos += a;
                p
            })
            .collect()
    };
    let xs = positions(in_w, width);
    let ys = positions(in_h, height);
    let src = img.as_raw();
    let row_len = in_w as usize * 3;
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    for &y in &ys {
        let row = &src[y * row_len..(y + 1) * row_len];
        for &x in &xs {
            out.extend_from_slice(&row[x * 3..x * 3 + 3]);
        }
    }
    RgbImage::from_raw(width, height, out).expect("resampled buffer has the target size")
}
