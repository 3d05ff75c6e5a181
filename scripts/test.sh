#!/usr/bin/env bash
# The project's whole test suite, as CI runs it: formatting, lints, then every test.
# Offline: the models it uses are committed under tests/fixtures/; the UI's Node packages come
# from `npm ci` in ui/ (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
# The desktop app's UI: type check and production build (seconds).
npm --prefix ui run typecheck
npm --prefix ui run build
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
