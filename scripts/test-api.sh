#!/usr/bin/env bash
# The local API against the official `openai` Python client: starts `smolvlm serve` on the tiny
# fixture model (port 0) and runs tests/api/test_openai_client.py. Needs target/debug/smolvlm
# (`cargo build -p smolvlm-cli`; SMOLVLM_BIN overrides) and PyPI once, for the venv it keeps in
# target/api-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: the test reads the client's error classes and `model_extra`.
OPENAI_VERSION="3.51.0"
PYTEST_VERSION="8.4.2"
VENV=target/api-venv
STAMP="$VENV/.openai-$OPENAI_VERSION-pytest-$PYTEST_VERSION"
if [[ ! -f "$STAMP" ]]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "openai==$OPENAI_VERSION" "pytest==$PYTEST_VERSION"
  touch "$STAMP"
fi

BIN="${SMOLVLM_BIN:-target/debug/smolvlm}"
if [[ ! -x "$BIN" ]]; then
  echo "error: $BIN is missing; run \`cargo build -p smolvlm-cli\` first" >&2
  exit 1
fi
export SMOLVLM_BIN="$BIN"
export SMOLVLM_API_MODEL="tests/fixtures/tiny-smolvlm"
exec "$VENV/bin/python" -m pytest -q tests/api "$@"
