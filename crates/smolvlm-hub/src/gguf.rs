//! The few GGUF header keys the model manager needs (`general.architecture`, `general.type`,
//! `general.name`) to tell a text model from a vision projector, read without loading tensors.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{HubError, Result};

/// The metadata keys that matter here.
#[derive(Debug, Clone, Default)]
pub struct GgufInfo {
    pub architecture: Option<String>,
    pub file_type: Option<String>,
    pub name: Option<String>,
}

impl GgufInfo {
    pub fn is_projector(&self) -> bool {
        self.architecture.as_deref() == Some("clip") || self.file_type.as_deref() == Some("mmproj")
    }
}

/// `None` when the file is not GGUF; an error when it claims to be and is malformed.
pub fn read_gguf_header(path: &Path) -> Result<Option<GgufInfo>> {
    let file = std::fs::File::open(path).map_err(|e| HubError::io(path, e))?;
    let mut r = BufReader::new(file);
    let mut magic = [0u8; 4];
    if r.read_exact(&mut magic).is_err() || &magic != b"GGUF" {
        return Ok(None);
    }
    let bad = |why: &str| HubError::NotAModel {
        path: path.to_path_buf(),
        reason: format!("malformed GGUF header: {why}"),
    };
    let version = read_u32(&mut r).map_err(|_| bad("truncated"))?;
    if !(2..=3).contains(&version) {
        return Err(bad(&format!("unsupported GGUF version {version}")));
    }
    let _tensors = read_u64(&mut r).map_err(|_| bad("truncated"))?;
    let kvs = read_u64(&mut r).map_err(|_| bad("truncated"))?;
    if kvs > 1 << 20 {
        return Err(bad("too many metadata entries"));
    }
    let mut info = GgufInfo::default();
    for _ in 0..kvs {
        let key = read_string(&mut r, 1 << 16).map_err(|_| bad("bad key"))?;
        let ty = read_u32(&mut r).map_err(|_| bad("truncated"))?;
        let wanted = matches!(
            key.as_str(),
            "general.architecture" | "general.type" | "general.name"
        );
        if ty == 8 && wanted {
            let v = read_string(&mut r, 1 << 16).map_err(|_| bad("bad string"))?;
            match key.as_str() {
                "general.architecture" => info.architecture = Some(v),
                "general.type" => info.file_type = Some(v),
                _ => info.name = Some(v),
            }
        } else {
            skip_value(&mut r, ty, 0).map_err(|e| bad(&e))?;
        }
        if info.architecture.is_some() && info.file_type.is_some() && info.name.is_some() {
            break;
        }
    }
    Ok(Some(info))
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn read_string(r: &mut impl Read, max: u64) -> std::io::Result<String> {
    let len = read_u64(r)?;
    if len > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "string too long",
        ));
    }
    let mut b = vec![0u8; len as usize];
    r.read_exact(&mut b)?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

fn skip_value<R: Read + Seek>(r: &mut R, ty: u32, depth: u32) -> std::result::Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let fixed = match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    };
    if let Some(n) = fixed {
        return r.seek(SeekFrom::Current(n)).map(|_| ()).map_err(io);
    }
    match ty {
        8 => {
            let len = read_u64(r).map_err(io)?;
            if len > 1 << 30 {
                return Err("string too long".into());
            }
            r.seek(SeekFrom::Current(len as i64))
                .map(|_| ())
                .map_err(io)
        }
        9 if depth < 4 => {
            let inner = read_u32(r).map_err(io)?;
            let count = read_u64(r).map_err(io)?;
            if count > 1 << 28 {
                return Err("array too long".into());
            }
            let size = match inner {
                0 | 1 | 7 => 1,
                2 | 3 => 2,
                4..=6 => 4,
                10..=12 => 8,
                _ => 0,
            };
            if size > 0 {
                r.seek(SeekFrom::Current((count * size) as i64))
                    .map(|_| ())
                    .map_err(io)
            } else {
                for _ in 0..count {
                    skip_value(r, inner, depth + 1)?;
                }
                Ok(())
            }
        }
        _ => Err(format!("unknown metadata type {ty}")),
    }
}
