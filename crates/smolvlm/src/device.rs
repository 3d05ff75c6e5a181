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

/// Where a model runs, and why it is not on the accelerator `auto` would have preferred.
#[derive(Debug, Clone)]
pub struct DeviceChoice {
    pub device: Device,
    /// Set when `auto` fell back to the CPU in a build with an accelerator: what was missing.
    pub notice: Option<String>,
}

/// `cuda` and `metal` fail with [`Error::Device`] naming what is missing (the feature, the
/// driver library, the device); `auto` takes the first that works, else the CPU with a notice.
pub fn select_device(pref: DevicePreference) -> Result<DeviceChoice> {
    let on = |device: Device| DeviceChoice {
        device,
        notice: None,
    };
    match pref {
        DevicePreference::Cpu => Ok(on(Device::Cpu)),
        DevicePreference::Cuda => cuda().map(on),
        DevicePreference::Metal => metal().map(on),
        DevicePreference::Auto => {
            let mut missing = Vec::new();
            for (compiled, try_device) in [
                (cfg!(feature = "cuda"), cuda as fn() -> Result<Device>),
                (cfg!(feature = "metal"), metal),
            ] {
                if !compiled {
                    continue;
                }
                match try_device() {
                    Ok(d) => return Ok(on(d)),
                    Err(e) => missing.push(e.to_string()),
                }
            }
            Ok(DeviceChoice {
                device: Device::Cpu,
                notice: (!missing.is_empty())
                    .then(|| format!("running on the CPU: {}", missing.join("; "))),
            })
        }
    }
}

/// One backend of this build on this machine, as a settings page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackendStatus {
    pub device: DevicePreference,
    /// Whether this build has the backend (`--features cuda` / `metal`; the CPU always).
    pub compiled: bool,
    /// Whether a model would run there now.
    pub available: bool,
    /// The device's name when available ("cuda:0"), else why not.
    pub detail: String,
}

/// The CPU, CUDA and Metal as this build and machine have them. Opening a GPU to see if it
/// answers costs a context: call it when the user looks, not per answer.
pub fn backends() -> Vec<BackendStatus> {
    let probe = |device: DevicePreference, compiled: bool| {
        let (available, detail) = match select_device(device) {
            Ok(c) => (true, device_name(&c.device)),
            Err(e) => (false, e.to_string()),
        };
        BackendStatus {
            device,
            compiled,
            available,
            detail,
        }
    };
    vec![
        probe(DevicePreference::Cpu, true),
        probe(DevicePreference::Cuda, cfg!(feature = "cuda")),
        probe(DevicePreference::Metal, cfg!(feature = "metal")),
    ]
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
        crate::cuda_libs::check()?;
        // cudarc panics when a library it loads on first use is missing; the check above names
        // the usual ones, this turns any other into the same error.
        std::panic::catch_unwind(|| Device::new_cuda(0))
            .map_err(|_| Error::Device("CUDA device 0: a CUDA library failed to load".into()))?
            .map_err(|e| Error::Device(format!("CUDA device 0: {e}")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_is_reported_and_the_cpu_is_always_there() {
        let all = backends();
        let kinds: Vec<_> = all.iter().map(|b| b.device).collect();
        use DevicePreference::*;
        assert_eq!(kinds, [Cpu, Cuda, Metal]);
        assert!(all[0].available && all[0].compiled && all[0].detail == "cpu");
        for b in &all[1..] {
            assert!(b.available || !b.detail.is_empty());
            assert!(b.compiled || !b.available);
        }
    }

    #[test]
    fn a_cpu_build_runs_on_the_cpu_and_names_the_missing_feature() {
        if cfg!(feature = "cuda") || cfg!(feature = "metal") {
            return;
        }
        let auto = select_device(DevicePreference::Auto).unwrap();
        assert!(auto.device.is_cpu() && auto.notice.is_none());
        let e = select_device(DevicePreference::Cuda).unwrap_err();
        assert!(e.to_string().contains("--features cuda"), "{e}");
        assert_eq!(e.code(), "device");
    }

    /// A CUDA build on a machine without a usable GPU (CI): `auto` falls back with a notice,
    /// `cuda` says what is missing. Skipped where a GPU answers.
    #[cfg(feature = "cuda")]
    #[test]
    fn a_cuda_build_without_a_gpu_falls_back_with_a_notice() {
        let Err(e) = select_device(DevicePreference::Cuda) else {
            return;
        };
        assert_eq!(e.code(), "device");
        let auto = select_device(DevicePreference::Auto).unwrap();
        assert!(auto.device.is_cpu());
        let notice = auto.notice.unwrap();
        assert!(notice.starts_with("running on the CPU: "), "{notice}");
        assert!(notice.contains(&e.to_string()), "{notice} / {e}");
    }
}
