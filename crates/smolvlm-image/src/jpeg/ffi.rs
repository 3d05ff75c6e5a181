//! The one call into C: `pj_decode` in `csrc/pillow_jpeg.c`, libjpeg-turbo driven as Pillow's
//! `JpegDecode.c` drives it.

use std::ffi::{c_char, c_int};

// libjpeg-turbo's objects come from turbojpeg-sys's static `libturbojpeg.a` (which holds the
// whole libjpeg API); naming the crate keeps it on the link line.
use turbojpeg_sys as _;

/// Size of the message buffer `pj_decode` writes (libjpeg's `JMSG_LENGTH_MAX`).
const MESSAGE_LEN: usize = 200;

unsafe extern "C" {
    fn pj_decode(
        data: *const u8,
        len: usize,
        components: c_int,
        xsize: u32,
        ysize: u32,
        max_side: u32,
        max_pixels: u64,
        out: *mut u8,
        message: *mut c_char,
    ) -> c_int;
}

/// Why libjpeg stopped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// libjpeg wanted more data than the file has (Pillow: "image file is truncated").
    Truncated,
    /// A libjpeg error (Pillow: "broken data stream when reading image file").
    Broken(String),
    /// libjpeg's own header is over the limits.
    TooLarge,
    /// An allocation failed.
    NoMemory,
}

/// Decodes `data` into `xsize * ysize * components` bytes (1: gray, 3: RGB, 4: CMYK as stored).
pub(crate) fn decode(
    data: &[u8],
    components: u8,
    (xsize, ysize): (u32, u32),
    max_side: u32,
    max_pixels: u64,
) -> Result<Vec<u8>, Failure> {
    let len = (xsize as usize)
        .checked_mul(ysize as usize)
        .and_then(|n| n.checked_mul(usize::from(components)))
        .ok_or(Failure::TooLarge)?;
    let mut out = Vec::new();
    out.try_reserve_exact(len).map_err(|_| Failure::NoMemory)?;
    out.resize(len, 0);
    let mut message = [0 as c_char; MESSAGE_LEN];
    // SAFETY: `data` is valid for `data.len()` bytes and only read; `out` holds exactly
    // `xsize * ysize * components` bytes, the most `pj_decode` writes (whole rows of
    // `xsize * components` bytes for `y < ysize`); `message` has the MESSAGE_LEN bytes it may
    // write, NUL-terminated. libjpeg's error longjmp stays inside `pj_decode` (its setjmp is
    // there and every callback is C), so it never unwinds a Rust frame; nothing is retained
    // after the call returns.
    let status = unsafe {
        pj_decode(
            data.as_ptr(),
            data.len(),
            c_int::from(components),
            xsize,
            ysize,
            max_side,
            max_pixels,
            out.as_mut_ptr(),
            message.as_mut_ptr(),
        )
    };
    match status {
        0 => Ok(out),
        1 => Err(Failure::Truncated),
        3 => Err(Failure::TooLarge),
        4 => Err(Failure::NoMemory),
        _ => {
            let bytes: Vec<u8> = message
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            Err(Failure::Broken(
                String::from_utf8_lossy(&bytes).into_owned(),
            ))
        }
    }
}
