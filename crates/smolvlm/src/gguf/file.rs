//! One memory-mapped GGUF file, checked before anything is read from it.
//!
//! candle's `gguf_file::Content::read` bounds strings, arrays and header counts against the file
//! length, but it trusts tensor shapes and offsets until a tensor is read, and it divides by a
//! `general.alignment` of 0. So the header is parsed under `catch_unwind` (a panic becomes a typed
//! error) and every tensor's element count, block divisibility and byte range are checked here
//! against the file length at open, before any tensor is touched.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use candle_core::Device;
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};

use crate::error::{Error, Result};

/// Where one tensor's bytes lie in the file, already validated.
#[derive(Debug, Clone)]
pub struct TensorEntry {
    pub dtype: GgmlDType,
    /// candle order (outermost first): the reverse of GGUF's `ne`.
    pub shape: Vec<usize>,
    pub start: usize,
    pub len: usize,
}

pub struct GgufFile {
    path: PathBuf,
    mmap: memmap2::Mmap,
    metadata: HashMap<String, Value>,
    tensors: HashMap<String, TensorEntry>,
}

/// The whole mapped file, so quantized weights can be used where they lie.
impl AsRef<[u8]> for GgufFile {
    fn as_ref(&self) -> &[u8] {
        &self.mmap
    }
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

/// The ggml types a weight may be stored in (what llama.cpp's converter and quantizer write for
/// SmolVLM-family models).
pub fn supported_dtype(dtype: GgmlDType) -> bool {
    use GgmlDType::*;
    matches!(
        dtype,
        F32 | F16 | BF16 | Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q4K | Q5K | Q6K
    )
}

impl GgufFile {
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::MissingModelFile {
                path: path.to_path_buf(),
            },
            _ => Error::io(path, e),
        })?;
        // SAFETY: mapped read-only; like every mmap user we rely on nobody truncating the file
        // while the model is loading (the tensors are copied out, the map is dropped after load).
        let mmap = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        Self::from_mmap(path, mmap)
    }

    fn from_mmap(path: &Path, mmap: memmap2::Mmap) -> Result<Self> {
        let bad = |reason: String| Error::malformed(path, reason);
        if mmap.len() < 24 || &mmap[..4] != b"GGUF" {
            return Err(bad("not a GGUF file (no GGUF magic)".into()));
        }
        let bytes: &[u8] = &mmap;
        let content = std::panic::catch_unwind(|| Content::read(&mut Cursor::new(bytes)))
            .map_err(|_| bad("the GGUF header could not be parsed".into()))?
            .map_err(|e| bad(format!("bad GGUF header: {e}")))?;
        let file_len = mmap.len() as u64;
        if content.tensor_data_offset > file_len {
            return Err(bad("the tensor data starts past the end of the file".into()));
        }
        let mut tensors = HashMap::with_capacity(content.tensor_infos.len());
        for (name, info) in &content.tensor_infos {
            let dtype = info.ggml_dtype;
            let shape = info.shape.dims().to_vec();
            let elems = shape
                .iter()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d))
                .ok_or_else(|| bad(format!("tensor {name} has an impossible shape {shape:?}")))?;
            let block = dtype.block_size();
            let inner = shape.last().copied().unwrap_or(1);
            if !inner.is_multiple_of(block) {
                return Err(bad(format!(
                    "tensor {name}: row length {inner} is not a multiple of the {dtype:?} block size {block}"
                )));
            }
            let len = (elems / block)
                .checked_mul(dtype.type_size())
                .ok_or_else(|| bad(format!("tensor {name} is too large")))?;
            let start = content
                .tensor_data_offset
                .checked_add(info.offset)
                .filter(|s| s.checked_add(len as u64).is_some_and(|end| end <= file_len))
                .ok_or_else(|| {
                    bad(format!(
                        "tensor {name} ({len} bytes at data offset {}) lies past the end of the file ({file_len} bytes): truncated?",
                        info.offset
                    ))
                })?;
            tensors.insert(
                name.clone(),
                TensorEntry {
                    dtype,
                    shape,
                    start: start as usize,
                    len,
                },
            );
        }
        Ok(Self {
            path: path.to_path_buf(),
            mmap,
            metadata: content.metadata,
            tensors,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn metadata(&self) -> &HashMap<String, Value> {
        &self.metadata
    }

    pub fn tensor_entry(&self, name: &str) -> Option<&TensorEntry> {
        self.tensors.get(name)
    }

    pub fn has_tensor(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    pub fn malformed(&self, reason: impl ToString) -> Error {
        Error::malformed(&self.path, reason)
    }

    /// Drops the mapped pages that lie wholly inside `start..start + len` from this process's
    /// memory, once the tensor there has been copied (re-laid out, un-permuted, or moved into
    /// candle's storage): without this a loaded model would count twice in its peak RSS. Nothing
    /// is lost — the mapping is private and read-only, so a later read of the range (an
    /// embedding row, say) maps the file's pages again.
    pub fn release(&self, start: usize, len: usize) {
        // 4 KiB alignment suits every page size that is a multiple of it; where the kernel
        // refuses (larger pages), the pages simply stay.
        const PAGE: usize = 4096;
        let first = start.next_multiple_of(PAGE);
        let end = (start + len).min(self.mmap.len()) / PAGE * PAGE;
        if end > first {
            // SAFETY: MADV_DONTNEED on a private read-only file mapping only discards pages
            // that are re-read from the file on the next access; nothing here writes them.
            let _ = unsafe {
                self.mmap.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    first,
                    end - first,
                )
            };
        }
    }

    /// The raw bytes of a tensor (validated at open).
    pub fn tensor_bytes(&self, name: &str) -> Result<(&TensorEntry, &[u8])> {
        let entry = self
            .tensors
            .get(name)
            .ok_or_else(|| self.malformed(format!("tensor {name} is missing")))?;
        Ok((entry, &self.mmap[entry.start..entry.start + entry.len]))
    }

    /// Builds a `QTensor` from (possibly rearranged) raw bytes of `entry`'s type and shape.
    pub fn qtensor_from_bytes(
        &self,
        name: &str,
        entry: &TensorEntry,
        bytes: &[u8],
        device: &Device,
    ) -> Result<QTensor> {
        if !supported_dtype(entry.dtype) {
            return Err(Error::UnsupportedModel(format!(
                "{}: tensor {name} is stored as {:?}, which is not supported (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K are)",
                self.path.display(),
                entry.dtype
            )));
        }
        // candle reinterprets the bytes as blocks in place: give it an address aligned for any
        // block type (f32 is the strictest) even if a file puts a tensor at an odd offset.
        let aligned: Vec<u32>;
        let bytes = if (bytes.as_ptr() as usize).is_multiple_of(4) {
            bytes
        } else {
            let mut words = vec![0u32; bytes.len().div_ceil(4)];
            // SAFETY: `words` holds at least `bytes.len()` bytes; u32 has no invalid bit patterns.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    words.as_mut_ptr() as *mut u8,
                    bytes.len(),
                );
            }
            aligned = words;
            // SAFETY: the buffer is initialised and outlives the slice.
            unsafe { std::slice::from_raw_parts(aligned.as_ptr() as *const u8, bytes.len()) }
        };
        candle_core::quantized::ggml_file::qtensor_from_ggml(
            entry.dtype,
            bytes,
            entry.shape.clone(),
            device,
        )
        .map_err(|e| self.malformed(format!("tensor {name}: {e}")))
    }

    // ---- metadata ----

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key)
    }

    pub fn str_opt(&self, key: &str) -> Result<Option<&str>> {
        match self.metadata.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.malformed(format!("metadata {key} is not a string"))),
        }
    }

    pub fn usize_opt(&self, key: &str) -> Result<Option<usize>> {
        match self.metadata.get(key) {
            None => Ok(None),
            Some(v) => value_as_u64(v).map(|x| Some(x as usize)).ok_or_else(|| {
                self.malformed(format!("metadata {key} is not a non-negative integer"))
            }),
        }
    }

    pub fn usize_req(&self, key: &str) -> Result<usize> {
        self.usize_opt(key)?
            .ok_or_else(|| self.malformed(format!("metadata {key} is missing")))
    }

    pub fn f64_opt(&self, key: &str) -> Result<Option<f64>> {
        match self.metadata.get(key) {
            None => Ok(None),
            Some(Value::F32(x)) => Ok(Some(*x as f64)),
            Some(Value::F64(x)) => Ok(Some(*x)),
            Some(v) => value_as_u64(v)
                .map(|x| Some(x as f64))
                .ok_or_else(|| self.malformed(format!("metadata {key} is not a number"))),
        }
    }

    pub fn bool_opt(&self, key: &str) -> Result<Option<bool>> {
        match self.metadata.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.malformed(format!("metadata {key} is not a boolean"))),
        }
    }

    pub fn array_opt(&self, key: &str) -> Result<Option<&[Value]>> {
        match self.metadata.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(self.malformed(format!("metadata {key} is not an array"))),
        }
    }

    pub fn f32_array_opt(&self, key: &str) -> Result<Option<Vec<f32>>> {
        let Some(items) = self.array_opt(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| match v {
                Value::F32(x) => Ok(*x),
                Value::F64(x) => Ok(*x as f32),
                _ => Err(self.malformed(format!("metadata {key} holds a non-float"))),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
}

fn value_as_u64(v: &Value) -> Option<u64> {
    match *v {
        Value::U8(x) => Some(x as u64),
        Value::U16(x) => Some(x as u64),
        Value::U32(x) => Some(x as u64),
        Value::U64(x) => Some(x),
        Value::I8(x) => u64::try_from(x).ok(),
        Value::I16(x) => u64::try_from(x).ok(),
        Value::I32(x) => u64::try_from(x).ok(),
        Value::I64(x) => u64::try_from(x).ok(),
        _ => None,
    }
}
