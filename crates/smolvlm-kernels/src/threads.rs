//! How many threads the CPU kernels use. The default is the number of physical cores: a second
//! hyper-thread on a core shares its vector units and only adds contention to these kernels.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets the thread count for the kernels from now on (0 goes back to the default).
pub fn set(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// The thread count in effect: the last [`set`], else [`automatic`]. Every product asks, so the
/// default is worked out once (it reads /proc/cpuinfo).
pub fn current() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => automatic(),
        n => n,
    }
}

/// What 0 ("automatic") means: `SMOLVLM_THREADS` when set, else the physical cores.
pub fn automatic() -> usize {
    static DEFAULT: OnceLock<usize> = OnceLock::new();
    *DEFAULT.get_or_init(|| {
        std::env::var("SMOLVLM_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(physical_cores)
    })
}

/// Physical cores available to this process: distinct (package, core) pairs among the CPUs it
/// may run on, where the OS says; else the logical CPU count.
pub fn physical_cores() -> usize {
    let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
    linux_physical_cores().map_or(logical, |p| p.clamp(1, logical))
}

#[cfg(target_os = "linux")]
fn linux_physical_cores() -> Option<usize> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let mut cores = std::collections::HashSet::new();
    let (mut package, mut core) = (None, None);
    for line in cpuinfo.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if let (Some(p), Some(c)) = (package.take(), core.take()) {
                cores.insert((p, c));
            }
            continue;
        }
        let mut kv = line.splitn(2, ':');
        let (key, value) = (kv.next()?.trim(), kv.next().unwrap_or("").trim());
        match key {
            "physical id" => package = value.parse::<u32>().ok(),
            "core id" => core = value.parse::<u32>().ok(),
            _ => {}
        }
    }
    (!cores.is_empty()).then_some(cores.len())
}

#[cfg(not(target_os = "linux"))]
fn linux_physical_cores() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_cores_is_within_logical() {
        let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
        let p = physical_cores();
        assert!(p >= 1 && p <= logical, "{p} of {logical}");
    }
}
