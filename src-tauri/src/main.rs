// Prevents an extra console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    #[cfg(target_os = "linux")]
    composite_in_software_without_a_gpu();
    smolvlm_desktop::run_app(tauri::Builder::default());
}

/// Without a GPU render node (a VM, a remote X session, Xvfb) WebKitGTK composites the page with
/// Mesa's software OpenGL, which made a streaming answer paint at ~7 frames a second (frame gaps
/// p50 139 ms, p95 333 ms under Xvfb); with compositing off, WebKit draws with its CPU renderer
/// (p50 60 ms, p95 93 ms, same run). A value the user set wins.
#[cfg(target_os = "linux")]
fn composite_in_software_without_a_gpu() {
    const VAR: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    let render_node = std::fs::read_dir("/dev/dri").is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    });
    if !render_node && std::env::var_os(VAR).is_none() {
        // SAFETY: `set_var` must not race with another thread reading or writing the
        // environment. This is called from the first statement of `main`: the Rust runtime starts
        // no thread before `main`, and tauri, GTK/WebKit and the model worker (the app's threads)
        // have not been started yet, so this thread is the only one.
        unsafe { std::env::set_var(VAR, "1") };
    }
}
