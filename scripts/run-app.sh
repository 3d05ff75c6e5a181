#!/usr/bin/env bash
# Sets up and runs SmolVLM Desktop: system packages, the UI build, then the app with the UI served
# from inside it. Load a model folder from the app (e.g. tests/fixtures/tiny-smolvlm, or a
# downloaded SmolVLM such as `smolvlm models path smolvlm-256m`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-system.sh
(cd ui && npm ci --no-audit --no-fund && npm run build)
cargo run -p smolvlm-desktop
