#!/usr/bin/env bash
# The soak (tests/e2e/soak.test.mjs): a long scripted session through the real app under Xvfb,
# sampling its memory, file descriptors, image store and IPC latency. Builds the UI and the debug
# binaries first (as CI does, linted: scripts/clippy-env.sh), then runs it through scripts/e2e.sh.
#
#   bash scripts/soak.sh                      # 200 turns over 120 minutes
#   SOAK_TURNS=40 SOAK_MINUTES=10 bash scripts/soak.sh
#
# Other knobs (tests/e2e/soak.test.mjs): SOAK_SAMPLE_S (30), SOAK_WARMUP (0.2 of the run left out
# of the slopes), SOAK_MAX_NEW_TOKENS (48), SOAK_MAX_FD_GROWTH (8), SOAK_MAX_RSS_MIB_PER_H (32),
# SOAK_MAX_IPC_P95_MS (250), SOAK_NO_BUILD=1. Figures: target/e2e-artifacts/soak.json.
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES=${SOAK_MINUTES:-120}
if [ "${SOAK_NO_BUILD:-0}" != 1 ]; then
  npm --prefix ui run build
  # shellcheck source=scripts/clippy-env.sh
  source scripts/clippy-env.sh
  cargo build -p smolvlm-desktop -p smolvlm-cli --locked
  unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
fi
# The hub at 2 MB/s: a download of the tiny model lasts long enough to be cancelled.
export SMOLVLM_E2E_HUB_RATE=${SMOLVLM_E2E_HUB_RATE:-2000000}
export SMOLVLM_E2E_FILES=tests/e2e/soak.test.mjs
export SMOLVLM_E2E_TIMEOUT_S=$(((MINUTES + 60) * 60))
exec bash scripts/e2e.sh "$@"
