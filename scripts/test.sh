#!/usr/bin/env bash
# The project's whole test suite, as CI runs it: formatting, lints, then every test.
# Offline: the models it uses are committed under tests/fixtures/.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
