#!/usr/bin/env bash
# Builds llama.cpp (CPU) for side-by-side benchmarks; not part of CI.
#
# The source is the llama.cpp that the PyPI sdist of llama-cpp-python vendors (vendor/llama.cpp;
# the only registry these machines reach is PyPI): llama-cpp-python 0.3.36 = llama.cpp commit
# 0c1e570 (ggml 0.25.3), the version the project's tiny GGUF fixtures were made with. It also
# holds convert_hf_to_gguf.py and gguf-py, which scripts/bench/make_bench_model.py uses.
#
#   bash scripts/bench/build-llama-cpp.sh            # -> $LLAMA_CPP_ROOT (default /work/llama.cpp)
#   VARIANT=avx2 bash scripts/bench/build-llama-cpp.sh   # AVX-512 off: what an AVX2 laptop runs
#
# Result ($SRC = $LLAMA_CPP_ROOT/llama_cpp_python-0.3.36/vendor/llama.cpp):
#   $SRC/build/bin/llama-bench       text prompt-processing / decode speed
#   $SRC/build/bin/llama-completion  classic one-shot text generation (in this version
#                                    `llama-cli` is the chat client built on the server code)
#   $SRC/build/bin/llama-mtmd-cli    multimodal (mmproj) runs: encodes images, prints timings
#   $SRC/build/bin/llama-quantize    requantizes the benchmark GGUFs (Q4_K_M)
#   $LLAMA_CPP_ROOT/bin              symlink to $SRC/build/bin
#   with VARIANT=avx2: $SRC/build-avx2/bin, linked as $LLAMA_CPP_ROOT/bin-avx2
#   $LLAMA_CPP_ROOT/venv             python venv with cmake, ninja, scikit-build-core (pip wheels)
#
# Portable AVX-512 build: GGML_NATIVE=ON would pick AMX on these VMs, and ggml's AMX path crashes
# here (see shared notes). Build in the real path, not through a symlink: CMake records
# ../../.git/modules/... (the sdist's submodule metadata) as a configure dependency, and ninja,
# resolving ".." lexically through a symlink, would re-run CMake forever.
# Env: LLAMA_CPP_ROOT, JOBS (default 2), NICE (default 10), TARGETS (default below), VARIANT
# (avx512, the default, or avx2).
set -euo pipefail

VERSION="0.3.36"
SDIST="llama_cpp_python-${VERSION}.tar.gz"
SDIST_SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
COMMIT="0c1e570"

ROOT="${LLAMA_CPP_ROOT:-/work/llama.cpp}"
JOBS="${JOBS:-2}"
NICE="${NICE:-10}"
TARGETS="${TARGETS:-llama-bench llama-completion llama-mtmd-cli llama-quantize}"
VARIANT="${VARIANT:-avx512}"
case "$VARIANT" in
  avx512) BUILD=build; BIN=bin; AVX512=ON ;;
  avx2) BUILD=build-avx2; BIN=bin-avx2; AVX512=OFF ;;
  *) echo "VARIANT is avx512 or avx2, not $VARIANT" >&2; exit 2 ;;
esac
SRC="$ROOT/llama_cpp_python-${VERSION}/vendor/llama.cpp"
mkdir -p "$ROOT"

# A private venv: cmake and ninja come as pip wheels (no system cmake needed); scikit-build-core
# lets pip read the sdist's metadata without an isolated build environment (with isolation pip
# would build cmake itself from source, since --no-binary :all: applies to build deps too).
if [ ! -x "$ROOT/venv/bin/cmake" ]; then
  python3 -m venv "$ROOT/venv"
  "$ROOT/venv/bin/pip" install --quiet --disable-pip-version-check cmake ninja scikit-build-core
fi
export PATH="$ROOT/venv/bin:$PATH"

if [ ! -f "$SRC/CMakeLists.txt" ]; then
  if [ ! -f "$ROOT/$SDIST" ]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    echo "llama-cpp-python==${VERSION} --hash=sha256:${SDIST_SHA256}" >"$tmp/requirements.txt"
    pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
      --no-build-isolation --require-hashes --dest "$tmp" -r "$tmp/requirements.txt"
    mv "$tmp/$SDIST" "$ROOT/$SDIST"
  fi
  tar -xzf "$ROOT/$SDIST" -C "$ROOT"
fi

cd "$SRC"
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
    -DGGML_AVX512="$AVX512" -DGGML_AVX512_VNNI="$AVX512" -DGGML_AVX512_VBMI="$AVX512" \
    -DGGML_AVX512_BF16="$AVX512" \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF
fi
# shellcheck disable=SC2086
nice -n "$NICE" cmake --build "$BUILD" -j "$JOBS" --target $TARGETS
ln -sfn "$SRC/$BUILD/bin" "$ROOT/$BIN"

echo "llama.cpp ${COMMIT} (llama-cpp-python ${VERSION}, $VARIANT) built in $SRC/$BUILD/bin ($ROOT/$BIN): $TARGETS"
if [ -x "$SRC/$BUILD/bin/llama-bench" ]; then "$SRC/$BUILD/bin/llama-bench" --version 2>&1 | head -1; fi
