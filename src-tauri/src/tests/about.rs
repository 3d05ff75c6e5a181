//! Settings → About: the `about` command.

use serde_json::json;

use super::harness::*;

#[test]
fn about_names_the_version_kernels_devices_and_folders() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(dir.path());
    let about = h.invoke("about", json!({})).unwrap();
    assert_eq!(about["version"], env!("CARGO_PKG_VERSION"));
    let kernels = about["cpuKernels"].as_str().unwrap();
    assert!(
        ["amx", "avx512", "avx2", "neon", "scalar"].contains(&kernels),
        "{about}"
    );
    // The devices command's own answer, the CPU's naming the same kernels.
    let devices = h.invoke("devices", json!({})).unwrap();
    assert_eq!(about["backends"], devices);
    assert_eq!(devices[0]["device"], "cpu");
    assert_eq!(devices[0]["detail"], format!("{kernels} kernels"));
    // An overridden data folder keeps the logs; the hub's cache is the one models go to.
    let path = |p: std::path::PathBuf| json!(p.display().to_string());
    assert_eq!(about["dataDir"], path(dir.path().to_path_buf()));
    assert_eq!(about["logDir"], path(dir.path().join("logs")));
    assert_eq!(about["hfCacheDir"], path(dir.path().join("hf-cache")));
    let usage = h.invoke("models_disk_usage", json!({})).unwrap();
    assert_eq!(about["hfCacheDir"], usage["cacheDir"]);
}
