#!/usr/bin/env bash
# The CPU kernels' tests for AArch64 (the NEON paths Apple Silicon and ARM servers run), built
# here for aarch64-unknown-linux-gnu and run under QEMU's user-mode emulation, which has NEON and
# the dot-product extension. Emulation checks results, not speed.
#
# rustup's aarch64 standard library is not reachable offline; Debian's packages are: rustc-web
# (Rust 1.96, for bookworm) with its arm64 standard library (multiarch), the GNU cross linker and
# qemu-user. Installs what is missing (as root or through sudo); builds into target/aarch64.
#
# `--engine` also runs the engine's tests (transformers parity, the GGUF pairs, quantize-at-load,
# generation; the real-weights test too where SMOLVLM_REAL_GGUF is set) on the NEON kernels:
# about 15 minutes to build candle and the rest for aarch64 on 2 cores and 10 emulated, so CI
# runs only the kernels' tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# rustc-web and its arm64 std are Debian 12's packages; elsewhere (Ubuntu, the README's other
# choice) this step is skipped with a note rather than failing the whole suite. CI is Debian 12.
. /etc/os-release
if [ "${ID:-}" != debian ] || [ "${VERSION_ID:-}" != 12 ]; then
  echo "AArch64 kernel tests skipped: they need Debian 12's rustc-web packages (this is ${PRETTY_NAME:-unknown})"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PACKAGES=(rustc-web cargo-web rust-web-clippy libstd-rust-web-dev:arm64 libc6:arm64
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
if ! dpkg -s "${PACKAGES[@]}" >/dev/null 2>&1; then
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"
fi

# Debian's compiler, cargo and clippy (rustup's proxies come first on PATH), its arm64 std beside
# them.
export RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo
# rustup's clippy driver (scripts/clippy-env.sh, set by scripts/test.sh) belongs to the other
# compiler; Debian's cargo-clippy below sets its own.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# The arm64 C library comes from multiarch (with the std package); the cross toolchain's own
# copy under /usr/aarch64-linux-gnu is another build, and mixing its loader with multiarch's libc
# hangs the first pthread_create, so QEMU gets no -L prefix.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64
# The AArch64-only code is invisible to the host's clippy.
/usr/bin/cargo-clippy clippy --locked -p smolvlm-kernels --all-targets \
  --target aarch64-unknown-linux-gnu --target-dir target/aarch64 -- -D warnings
# Optimized (emulated debug code is minutes per test), with the debug checks kept on.
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
export RUSTFLAGS="-D warnings"
CRATES=(-p smolvlm-kernels)
if [ "${1:-}" = "--engine" ]; then
  CRATES+=(-p smolvlm)
  # onig (the tokenizer's regex engine) is C, built by its build script for the target.
  export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
fi
/usr/bin/cargo test --release --locked "${CRATES[@]}" --lib --tests \
  --target aarch64-unknown-linux-gnu --target-dir target/aarch64
