#!/usr/bin/env bash
# The fuzz targets (crates/smolvlm-fuzz, driven from fuzz/) built and run with libFuzzer on the
# stable toolchain: no cargo-fuzz, no nightly. docs/fuzzing.md describes the targets.
#
#   bash scripts/fuzz.sh build [--app]            build the fuzz binaries (target/fuzz)
#   bash scripts/fuzz.sh ci [seconds]             replay every corpus, then fuzz each target
#                                                 briefly (default 15 s each); fails on a crash
#   bash scripts/fuzz.sh run TARGET [seconds]     fuzz one target (default 600 s; 0: until ^C),
#                                                 keeping new inputs in target/fuzz/corpus-work
#   bash scripts/fuzz.sh all HOURS                fuzz every target for HOURS in all, as many
#                                                 at once as there are cores
#   bash scripts/fuzz.sh merge TARGET             minimize corpus-work + the committed corpus
#                                                 back into fuzz/corpus/TARGET
#   bash scripts/fuzz.sh repro TARGET FILE...     run a target once on each FILE
#
# Options (any mode): --app adds the `store` target, which links the desktop app (a longer
# build); --asan builds with AddressSanitizer (-Zsanitizer=address through RUSTC_BOOTSTRAP=1,
# in target/fuzz-asan). Environment: FUZZ_RSS_MB (default 2048), FUZZ_TIMEOUT_S (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(image gguf tokenizer_gguf safetensors_header config_json chat_template pdf api_request)
APP_TARGETS=(store)
RSS_MB="${FUZZ_RSS_MB:-2048}"
TIMEOUT_S="${FUZZ_TIMEOUT_S:-20}"

die() {
  echo "fuzz.sh: $*" >&2
  exit 1
}

# The largest input each target is given: images and PDFs are files of some size, the rest
# headers and JSON.
max_len() {
  case "$1" in
    image | pdf) echo 262144 ;;
    *) echo 65536 ;;
  esac
}

APP=0
ASAN=0
ARGS=()
for arg in "$@"; do
  case "$arg" in
    --app) APP=1 ;;
    --asan) ASAN=1 ;;
    *) ARGS+=("$arg") ;;
  esac
done
set -- "${ARGS[@]+"${ARGS[@]}"}"
MODE="${1:-}"
[[ -n "$MODE" ]] || die "usage: bash scripts/fuzz.sh build|ci|run|all|merge|repro ... (see the script's header)"
shift

HOST="$(rustc -vV | sed -n 's/^host: //p')"
OUT=target/fuzz
[[ $ASAN == 1 ]] && OUT=target/fuzz-asan
BIN_DIR="$OUT/$HOST/release"

is_target() {
  local t
  for t in "${TARGETS[@]}" "${APP_TARGETS[@]}"; do
    [[ "$t" == "$1" ]] && return 0
  done
  return 1
}

# What `cargo fuzz build` does: sancov instrumentation of every crate for libFuzzer (inline
# 8-bit counters, PC table, compare tracing), `--cfg fuzzing`, debug assertions and overflow
# checks in a release build; `--target` so that build scripts and proc macros stay
# uninstrumented.
build() {
  command -v c++ >/dev/null || die "libfuzzer-sys compiles libFuzzer (C++): install g++ or clang++"
  local flags=(
    -Cpasses=sancov-module
    -Cllvm-args=-sanitizer-coverage-level=4
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
    -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares
    --cfg fuzzing
    -Cdebug-assertions
    -Coverflow-checks
  )
  local features=()
  [[ $APP == 1 ]] && features=(--features app)
  if [[ $ASAN == 1 ]]; then
    # Sanitizer flags are unstable options; RUSTC_BOOTSTRAP lets the stable compiler take them.
    flags+=(-Zsanitizer=address)
    export RUSTC_BOOTSTRAP=1
  fi
  echo "fuzz.sh: building the fuzz targets into $OUT (${features[*]:-no app})" >&2
  # The workspace's clippy wrapper (scripts/clippy-env.sh) has no business in this build.
  env -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS \
    RUSTFLAGS="${flags[*]}" CARGO_TARGET_DIR="$OUT" \
    cargo build --manifest-path fuzz/Cargo.toml --locked --release --target "$HOST" --bins \
    "${features[@]+"${features[@]}"}"
}

binary() {
  local bin="$BIN_DIR/$1"
  [[ -x "$bin" ]] || die "no fuzz binary $bin: build it first (bash scripts/fuzz.sh build, with --app for store)"
  echo "$bin"
}

# Committed inputs of a target: its seed corpus and the inputs of crashes fixed since.
committed() {
  local d
  for d in "fuzz/corpus/$1" "fuzz/regressions/$1"; do
    [[ -d "$d" ]] && echo "$d"
  done
}

# fuzz TARGET SECONDS WORK_DIR: libFuzzer on the committed inputs (read, never written) with new
# inputs kept in WORK_DIR; crash, timeout and out-of-memory reproducers go to
# target/fuzz/artifacts/TARGET/.
fuzz() {
  local target="$1" seconds="$2" work="$3" bin
  bin="$(binary "$target")"
  local artifacts="$OUT/artifacts/$target"
  mkdir -p "$work" "$artifacts"
  local dirs
  mapfile -t dirs < <(committed "$target")
  local time_flag=()
  [[ "$seconds" != 0 ]] && time_flag=(-max_total_time="$seconds")
  # stdin from /dev/null: a target that reads a path the input names (the API's file URLs)
  # must not wait on the terminal.
  RUST_BACKTRACE=1 "$bin" "${time_flag[@]+"${time_flag[@]}"}" \
    -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" -timeout="$TIMEOUT_S" \
    -max_len="$(max_len "$target")" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work" "${dirs[@]}" </dev/null
}

report_failure() {
  local target="$1" log="$2"
  echo "fuzz.sh: $target FAILED; the end of its log ($log):" >&2
  tail -n 40 "$log" >&2
  local found
  found="$(find "$OUT/artifacts/$target" -type f -newer "$log.start" 2>/dev/null || true)"
  if [[ -n "$found" ]]; then
    echo "fuzz.sh: reproducer(s): $found" >&2
    echo "fuzz.sh: replay with: bash scripts/fuzz.sh repro $target <file>" >&2
  fi
}

run_ci() {
  local seconds="${1:-15}" targets=("${TARGETS[@]}") failed=()
  [[ $APP == 1 ]] && targets+=("${APP_TARGETS[@]}")
  local start=$SECONDS
  build
  echo "fuzz.sh: build took $((SECONDS - start)) s" >&2
  for target in "${targets[@]}"; do
    # A scratch corpus per run: what CI finds is not added to the committed corpus.
    local work="$OUT/ci/$target" log="$OUT/ci/$target.log"
    rm -rf "$work"
    mkdir -p "$work"
    touch "$log.start"
    echo "fuzz.sh: $target: replaying $(committed "$target" | xargs -r -I{} find {} -type f | wc -l) committed inputs, then fuzzing ${seconds} s" >&2
    if fuzz "$target" "$seconds" "$work" >"$log" 2>&1; then
      grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | tr '\n' ' ' >&2
      echo >&2
    else
      report_failure "$target" "$log"
      failed+=("$target")
    fi
  done
  echo "fuzz.sh: ci took $((SECONDS - start)) s" >&2
  [[ ${#failed[@]} == 0 ]] || die "crashes in: ${failed[*]}"
}

run_all() {
  local hours="${1:-}"
  [[ "$hours" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "usage: bash scripts/fuzz.sh all HOURS"
  local targets=("${TARGETS[@]}")
  [[ $APP == 1 ]] && targets+=("${APP_TARGETS[@]}")
  local jobs
  jobs="$(nproc)"
  # Each target gets an equal share of HOURS × cores.
  local each
  each="$(awk -v h="$hours" -v j="$jobs" -v n="${#targets[@]}" 'BEGIN { printf "%d", h * 3600 * j / n }')"
  echo "fuzz.sh: ${#targets[@]} targets, ${each} s each, $jobs at a time" >&2
  local failed=0
  for target in "${targets[@]}"; do
    while (($(jobs -rp | wc -l) >= jobs)); do
      wait -n || failed=1
    done
    mkdir -p "$OUT/logs"
    local log="$OUT/logs/$target.log"
    touch "$log.start"
    (fuzz "$target" "$each" "$OUT/corpus-work/$target" >"$log" 2>&1 ||
      {
        report_failure "$target" "$log"
        exit 1
      }) &
  done
  while (($(jobs -rp | wc -l) > 0)); do
    wait -n || failed=1
  done
  grep -H -E '^stat::number_of_executed_units' "$OUT"/logs/*.log >&2 || true
  [[ $failed == 0 ]] || die "a target crashed; see its log in $OUT/logs"
}

merge() {
  local target="$1" bin
  bin="$(binary "$target")"
  local fresh="$OUT/merge/$target"
  rm -rf "$fresh"
  mkdir -p "$fresh" "$OUT/corpus-work/$target"
  "$bin" -merge=1 -max_len="$(max_len "$target")" -rss_limit_mb="$RSS_MB" -timeout="$TIMEOUT_S" \
    "$fresh" "fuzz/corpus/$target" "$OUT/corpus-work/$target" </dev/null
  rm -rf "fuzz/corpus/$target"
  mv "$fresh" "fuzz/corpus/$target"
  echo "fuzz.sh: fuzz/corpus/$target: $(find "fuzz/corpus/$target" -type f | wc -l) inputs, $(du -sh "fuzz/corpus/$target" | cut -f1)" >&2
}

case "$MODE" in
  build) build ;;
  ci) run_ci "$@" ;;
  run)
    target="${1:-}"
    is_target "$target" || die "unknown target ${target:-(none)}: ${TARGETS[*]} ${APP_TARGETS[*]}"
    [[ " ${APP_TARGETS[*]} " == *" $target "* ]] && APP=1
    build
    fuzz "$target" "${2:-600}" "$OUT/corpus-work/$target"
    ;;
  all)
    build
    run_all "$@"
    ;;
  merge)
    is_target "${1:-}" || die "usage: bash scripts/fuzz.sh merge TARGET"
    merge "$1"
    ;;
  repro)
    target="${1:-}"
    is_target "$target" || die "usage: bash scripts/fuzz.sh repro TARGET FILE..."
    shift
    (($# > 0)) || die "usage: bash scripts/fuzz.sh repro TARGET FILE..."
    RUST_BACKTRACE=1 "$(binary "$target")" -rss_limit_mb="$RSS_MB" -timeout="$TIMEOUT_S" "$@" </dev/null
    ;;
  *) die "unknown mode $MODE (build, ci, run, all, merge, repro)" ;;
esac
