//! The configuration's one copy is the repository's top-level `tauri.conf.json`; tauri-build is
//! pointed at it (and `generate_context!` in src/lib.rs names the same file). Capabilities stay
//! in `src-tauri/capabilities/`.

fn main() {
    println!("cargo:rerun-if-changed=capabilities");
    tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
        .expect("tauri-build failed (see ../tauri.conf.json)");
}
