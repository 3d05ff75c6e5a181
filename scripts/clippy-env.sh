# Sourced, not run: makes every following `cargo build`/`cargo test` lint the workspace's crates
# as it compiles them, with the warnings of `cargo clippy -- -D warnings` as errors.
#
# Why: `cargo clippy` is `cargo check` with clippy's driver, so a CI that runs it and then builds
# the tests compiles every dependency twice (metadata-only, then with code): 5 minutes for the
# workspace, 12 for the CUDA build, whose kernels nvcc compiles in both. clippy's driver is rustc
# with the lints added; set as the workspace wrapper of a normal build it lints and compiles in
# one pass. This is how `cargo clippy` itself calls it (CLIPPY_ARGS is its argument list, split on
# `__CLIPPY_HACKERY__`). Dependencies never see the wrapper. Cargo keeps the wrapper in the
# workspace crates' fingerprints, so every build after this line must keep it (or rebuild them).
CLIPPY_DRIVER="$(rustc --print sysroot)/bin/clippy-driver"
[[ -x "$CLIPPY_DRIVER" ]] || {
  echo "clippy-env: no clippy-driver at $CLIPPY_DRIVER (rustup component add clippy)" >&2
  return 1
}
export RUSTC_WORKSPACE_WRAPPER="$CLIPPY_DRIVER"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
unset CLIPPY_DRIVER
