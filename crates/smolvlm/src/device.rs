//! The one place that decides where the model runs. CUDA and Metal exist only when the crate is
//! built with the `cuda` / `metal` features; everything else runs on the CPU.

use candle_core::Device;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DevicePreference {
    /// The best accelerator compiled in and present, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
    Metal,
}

impl std::str::FromStr for DevicePreference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            "metal" => Ok(Self::Metal),
            other => Err(Error::InvalidRequest(format!(
                "unknown device {other:?} (auto, cpu, cuda, metal)"
            ))),
        }
    }
}

pub fn select_device(pref: DevicePreference) -> Result<Device> {
    match pref {
        DevicePreference::Cpu => Ok(Device::Cpu),
        DevicePreference::Cuda => cuda(),
        DevicePreference::Metal => metal(),
        DevicePreference::Auto => Ok(cuda().or_else(|_| metal()).unwrap_or(Device::Cpu)),
    }
}

/// Human-readable name for status lines ("cpu", "cuda:0", "metal:0").
pub fn device_name(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

fn cuda() -> Result<Device> {
    if cfg!(feature = "cuda") {
        Device::new_cuda(0).map_err(|e| Error::Device(format!("CUDA device 0: {e}")))
    } else {
        Err(Error::Device(
            "this build has no CUDA support (build with --features cuda)".into(),
        ))
    }
}

fn metal() -> Result<Device> {
    if cfg!(feature = "metal") {
        Device::new_metal(0).map_err(|e| Error::Device(format!("Metal device 0: {e}")))
    } else {
        Err(Error::Device(
            "this build has no Metal support (build with --features metal)".into(),
        ))
    }
}
