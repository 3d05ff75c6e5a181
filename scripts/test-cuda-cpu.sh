#!/usr/bin/env bash
# The CUDA build on a machine without a GPU (CI's): its device tests and the GPU parity suite
# (which skips without a device), then the CUDA-enabled `smolvlm` itself, which must start, answer
# on the CPU with a notice under `--device auto` (the golden tokens of the tiny model), and refuse
# `--device cuda` naming the missing driver library. Builds in target/cuda (scripts/build-cuda.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# The engine's unit tests (device::) and its integration suite (gpu::), then the `smolvlm`
# binary, each built with the CUDA code compiled in and linted as it compiles
# (scripts/clippy-env.sh): the CUDA-only code (smolvlm's device.rs and cuda_libs.rs) is invisible
# to the CPU build's clippy, and a separate `cargo clippy` would run the kernels' nvcc and check
# every dependency again. The CLI's own tests are the CPU build's: linking each of them against
# the CUDA engine again would test nothing new.
source scripts/clippy-env.sh
bash scripts/build-cuda.sh test -p smolvlm --features cuda --lib --test it -- device:: gpu::
bash scripts/build-cuda.sh build -p smolvlm-cli --features smolvlm/cuda
DIR="${CARGO_TARGET_DIR:-target/cuda}/debug"
BIN="$DIR/smolvlm"
cp -L target/cuda-toolkit/home/lib64/libcudart.so.13 "$DIR/"

if ls /dev/nvidia0 >/dev/null 2>&1; then
  echo "a GPU is present: the CPU fallback is not what runs here; skipped"
  exit 0
fi
MODEL=tests/fixtures/tiny-smolvlm
ERR="$(mktemp)"
trap 'rm -f "$ERR"' EXIT
OUT="$("$BIN" generate --model "$MODEL" --device auto --image "$MODEL/img_wide_300x200.png" \
  --prompt "What is in this image?" --max-new-tokens 24 --json 2>"$ERR")"
grep -q "^notice: running on the CPU: " "$ERR" || {
  echo "no CPU-fallback notice on stderr:" >&2
  cat "$ERR" >&2
  exit 1
}
printf '%s' "$OUT" |
  python3 scripts/check-golden-tokens.py - "$MODEL/golden.json" 1 "CUDA build on the CPU, with a notice"
if "$BIN" generate --model "$MODEL" --device cuda --prompt hi --max-new-tokens 1 2>"$ERR"; then
  echo "--device cuda succeeded without a GPU" >&2
  exit 1
fi
grep -q "libcuda.so.1" "$ERR" || {
  echo "--device cuda did not name the missing driver library:" >&2
  cat "$ERR" >&2
  exit 1
}
echo "CUDA build with --device cuda and no driver: $(tail -1 "$ERR")"
