//! The CUDA libraries a `cuda` build loads at run time (cudarc's dynamic loading), checked
//! before candle touches them: cudarc panics on a missing library, and a user needs to hear
//! which one is missing and where it comes from.

#[cfg(all(unix, feature = "cuda"))]
use crate::error::Error;
use crate::error::Result;

/// `(file, what provides it)`: what candle opens with a device (the driver, then cuBLAS, which
/// brings cuBLASLt, then cuRAND). Linux names; CUDA 13.
#[cfg(all(unix, feature = "cuda"))]
const LIBRARIES: [(&str, &str); 3] = [
    ("libcuda.so.1", "the NVIDIA driver"),
    (
        "libcublas.so.13",
        "CUDA 13's cuBLAS (the toolkit, or `pip install nvidia-cublas`)",
    ),
    (
        "libcurand.so.10",
        "CUDA 13's cuRAND (the toolkit, or `pip install nvidia-curand`)",
    ),
];

/// Fails with the first library that cannot be loaded.
#[cfg(all(unix, feature = "cuda"))]
pub fn check() -> Result<()> {
    for (file, from) in LIBRARIES {
        // SAFETY: loading a CUDA library runs its initialisers, which are the vendor's and are
        // what candle runs anyway when it opens the device; the handle is dropped at once.
        if let Err(e) = unsafe { libloading::Library::new(file) } {
            return Err(Error::Device(format!(
                "CUDA needs {file}, from {from}, and it cannot be loaded ({e}); set \
                 LD_LIBRARY_PATH to its folder or use --device cpu"
            )));
        }
    }
    Ok(())
}

/// Nothing to check up front without CUDA, or off Unix (a missing library is then caught when
/// the device opens).
#[cfg(not(all(unix, feature = "cuda")))]
pub fn check() -> Result<()> {
    Ok(())
}
