//! `LoadOptions::threads` reaches the pools that do the work: the kernels' workers (resized by
//! every model) and rayon's global pool of candle's CPU ops (sized by the first model), counted
//! as the OS threads of this process. Both are one per process, so the test runs alone in a
//! child process (other tests would resize them).

use std::path::Path;
use std::process::Command;

use smolvlm::{CancelToken, ImageSource, LoadOptions, Message, SamplingParams, SmolVlmModel};

use crate::support::fixture;

const CHILD: &str = "SMOLVLM_THREADS_TEST_CHILD";

#[test]
fn the_threads_setting_reaches_the_kernels() {
    if std::env::var_os(CHILD).is_none() {
        let name = "threads::the_threads_setting_reaches_the_kernels";
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--test-threads=1", "--nocapture"])
            .env(CHILD, "1")
            .env_remove("SMOLVLM_THREADS")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let dir = fixture("tiny-smolvlm");
    // Down, then up: each load resizes the pools, whatever ran before.
    for n in [3, 2, 4] {
        generate_with_threads(&dir, n);
        if cfg!(target_os = "linux") {
            // The caller's thread takes part in every product: n - 1 workers.
            assert_eq!(
                threads_named("smolvlm-kernel"),
                n - 1,
                "kernel workers for {n}"
            );
        }
    }
}

fn generate_with_threads(dir: &Path, n: usize) {
    let options = LoadOptions {
        threads: n,
        ..Default::default()
    };
    // Quantized weights: the decoder's products (the 49k-row output layer above all) are split
    // over the kernels' pool.
    let mut model = SmolVlmModel::load_gguf(
        &dir.join("model-q8_0.gguf"),
        Some(&dir.join("mmproj-q8_0.gguf")),
        &options,
    )
    .unwrap();
    assert_eq!(model.threads(), n);
    let message = Message::user_with_images(
        [ImageSource::Path(dir.join("img_wide_300x200.png"))],
        "What is in this image?",
    );
    let prompt = model.prepare(&[message], None).unwrap();
    let params = SamplingParams {
        max_new_tokens: 3,
        ..Default::default()
    };
    model
        .generate(prompt, params, CancelToken::new())
        .run()
        .unwrap();
    if cfg!(target_os = "linux") {
        // Linux keeps 15 bytes of a thread's name; the first model (3 threads) sized the pool.
        assert_eq!(threads_named("smolvlm-comput"), 3, "rayon's global pool");
    }
}

/// Threads of this process whose name starts with `prefix`.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}
