#!/usr/bin/env bash
# Builds the CUDA-enabled `smolvlm` (release) with NVIDIA's compiler and libraries from PyPI: no
# system CUDA toolkit and no GPU are needed to build. docs/gpu.md says how to run it.
#
#   bash scripts/build-cuda.sh                  # target/cuda/release/smolvlm (+ its libcudart)
#   bash scripts/build-cuda.sh test --no-run    # any cargo subcommand and its arguments
#   bash scripts/build-cuda.sh clippy -p smolvlm --features smolvlm/cuda --all-targets
#
# What it does, and why:
# 1. NVIDIA's wheels (nvcc, headers, cudart, cuBLAS, cuRAND, NVRTC) into a venv under
#    target/cuda-toolkit (once); CUDA 13.4: the newest that cudarc 0.19 (candle 0.11's) knows.
# 2. A CUDA_HOME laid out as the toolkit's (bin, include, lib64 with unversioned .so names).
# 3. candle-core, copied from cargo's registry with one feature changed: cudarc's
#    `dynamic-linking` becomes `dynamic-loading`, so the binary opens libcuda, cuBLAS, cuRAND and
#    NVRTC when a CUDA device is asked for — the same binary starts on a machine without a GPU or
#    driver and runs on the CPU. Only libcudart (linked by candle-kernels' static kernels) is
#    needed at start; it is copied beside the binary, which finds it through its RUNPATH.
#    The patch is given on the command line (--config) and Cargo.lock is restored afterwards,
#    so CPU builds never see it.
# 4. cargo with CUDA_COMPUTE_CAP (default 80: PTX for Ampere, JIT-compiled by the driver on
#    newer GPUs; 90 for an H100/H200) in its own target dir, target/cuda.
set -euo pipefail
cd "$(dirname "$0")/.."

CUDA_MINOR="13.4"
CANDLE_VERSION="0.11.1"
TOOLKIT=target/cuda-toolkit
VENV="$TOOLKIT/venv"
STAMP="$VENV/.cuda-$CUDA_MINOR"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/cuda}"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-80}"

if [[ ! -f "$STAMP" ]]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "nvidia-cuda-nvcc==$CUDA_MINOR.*" "nvidia-cuda-crt==$CUDA_MINOR.*" \
    "nvidia-nvvm==$CUDA_MINOR.*" "nvidia-cuda-runtime==$CUDA_MINOR.*" \
    "nvidia-cuda-nvrtc==$CUDA_MINOR.*" "nvidia-cuda-cccl<13.5" \
    "nvidia-cublas>=13,<14" "nvidia-curand>=10.4,<11"
  touch "$STAMP"
fi
WHEELS="$(cd "$(echo "$VENV"/lib/python3*/site-packages/nvidia/cu13)" && pwd)"

HOME_DIR="$(pwd)/$TOOLKIT/home"
mkdir -p "$HOME_DIR/lib64"
for d in bin include nvvm; do ln -sfn "$WHEELS/$d" "$HOME_DIR/$d"; done
for f in "$WHEELS"/lib/*.so.*; do
  b="$(basename "$f")"
  ln -sfn "$f" "$HOME_DIR/lib64/$b"
  ln -sfn "$f" "$HOME_DIR/lib64/${b%%.so.*}.so"
done
export CUDA_HOME="$HOME_DIR" CUDA_PATH="$HOME_DIR" PATH="$HOME_DIR/bin:$PATH"
export LIBRARY_PATH="$HOME_DIR/lib64${LIBRARY_PATH:+:$LIBRARY_PATH}"

# candle-core as published, but loading CUDA at run time.
cargo fetch --locked >/dev/null
CRATE="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/candle-core-$CANDLE_VERSION.crate | head -1)"
PATCHED="$TOOLKIT/candle-core-$CANDLE_VERSION"
if [[ ! -f "$PATCHED/.patched" ]]; then
  rm -rf "$PATCHED"
  tar -xzf "$CRATE" -C "$TOOLKIT"
  grep -q '"dynamic-linking",' "$PATCHED/Cargo.toml"
  sed -i 's/"dynamic-linking",/"dynamic-loading",/' "$PATCHED/Cargo.toml"
  touch "$PATCHED/.patched"
fi

cp Cargo.lock "$TOOLKIT/Cargo.lock.committed"
trap 'cp "$TOOLKIT/Cargo.lock.committed" Cargo.lock' EXIT
PATCH=(--config "patch.crates-io.candle-core.path=\"$PATCHED\"")
# The binary looks for libcudart beside itself ($ORIGIN), then where the loader looks.
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-rpath,\$ORIGIN"

if [[ $# -eq 0 ]]; then
  cargo build "${PATCH[@]}" --release -p smolvlm-cli --features cuda
  cp -L "$WHEELS/lib/libcudart.so.13" "$CARGO_TARGET_DIR/release/"
  echo "$CARGO_TARGET_DIR/release/smolvlm"
else
  # Test binaries live in deps/, away from a copied libcudart: give the loader the toolkit's.
  export LD_LIBRARY_PATH="$HOME_DIR/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  sub="$1"
  shift
  cargo "$sub" "${PATCH[@]}" "$@"
fi
