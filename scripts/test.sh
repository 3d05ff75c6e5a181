#!/usr/bin/env bash
# The project's whole test suite, as CI runs it: formatting, lints, then every test.
# Offline: the models it uses are committed under tests/fixtures/; the UI's Node packages come
# from `npm ci` in ui/ (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
# The desktop app's UI: type check, unit tests (Vitest, incl. the markdown sanitizing) and the
# production build the app embeds (seconds).
npm --prefix ui run typecheck
npm --prefix ui test
npm --prefix ui run build
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# End-to-end: the real app under Xvfb, driven by WebKitWebDriver (about a minute). The app binary
# is built with the same target selection as `cargo test --workspace` (tests activate
# dev-dependency features such as tauri's `test`; `cargo build -p smolvlm-desktop` alone would
# resolve other features and recompile tauri), so here only the binaries are linked.
cargo build --workspace --all-targets --locked
bash scripts/e2e.sh
