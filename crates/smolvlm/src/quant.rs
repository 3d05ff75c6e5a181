//! Quantizing a safetensors model as it loads (`--quant`), into llama.cpp's block formats so the
//! same kernels serve GGUF files and quantized originals.

use candle_core::quantized::GgmlDType;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantization {
    /// Keep the checkpoint's weights (converted to the compute dtype).
    #[default]
    None,
    Q8_0,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q4K,
    Q5K,
    Q6K,
}

impl Quantization {
    pub const NAMES: &'static str = "none, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k";

    /// The type a matrix `width` columns wide is stored in: the chosen one, or for k-quants on a
    /// width that is no multiple of 256 what llama.cpp's quantizer falls back to; `None` keeps it
    /// dense (no quantization, or a width no block type divides).
    pub fn for_width(self, width: usize) -> Option<GgmlDType> {
        use Quantization::*;
        let (ty, fallback) = match self {
            None => return Option::None,
            Q8_0 => (GgmlDType::Q8_0, GgmlDType::Q8_0),
            Q4_0 => (GgmlDType::Q4_0, GgmlDType::Q4_0),
            Q4_1 => (GgmlDType::Q4_1, GgmlDType::Q4_1),
            Q5_0 => (GgmlDType::Q5_0, GgmlDType::Q5_0),
            Q5_1 => (GgmlDType::Q5_1, GgmlDType::Q5_1),
            Q4K => (GgmlDType::Q4K, GgmlDType::Q5_0),
            Q5K => (GgmlDType::Q5K, GgmlDType::Q5_1),
            Q6K => (GgmlDType::Q6K, GgmlDType::Q8_0),
        };
        if width.is_multiple_of(ty.block_size()) {
            Some(ty)
        } else if width.is_multiple_of(fallback.block_size()) {
            Some(fallback)
        } else {
            Option::None
        }
    }
}

impl std::str::FromStr for Quantization {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        use Quantization::*;
        Ok(match s.to_ascii_lowercase().as_str() {
            "none" | "f32" => None,
            "q8_0" => Q8_0,
            "q4_0" => Q4_0,
            "q4_1" => Q4_1,
            "q5_0" => Q5_0,
            "q5_1" => Q5_1,
            "q4_k" | "q4k" => Q4K,
            "q5_k" | "q5k" => Q5K,
            "q6_k" | "q6k" => Q6K,
            other => {
                return Err(Error::InvalidRequest(format!(
                    "unknown quantization {other:?} ({})",
                    Self::NAMES
                )));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_quants_fall_back_on_narrow_widths() {
        assert_eq!(Quantization::Q4K.for_width(1536), Some(GgmlDType::Q4K));
        assert_eq!(Quantization::Q4K.for_width(576), Some(GgmlDType::Q5_0));
        assert_eq!(Quantization::Q6K.for_width(576), Some(GgmlDType::Q8_0));
        assert_eq!(Quantization::Q8_0.for_width(4304), Option::None);
        assert_eq!(Quantization::None.for_width(512), Option::None);
        assert_eq!("Q4_K".parse::<Quantization>().unwrap(), Quantization::Q4K);
        assert!("q3_k".parse::<Quantization>().is_err());
    }
}
