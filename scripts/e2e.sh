#!/usr/bin/env bash
# End-to-end tests of the real desktop app: starts a virtual display (Xvfb), WebKitWebDriver, and a
# local Hugging Face test hub serving tests/fixtures/tiny-smolvlm, then runs tests/e2e/app.test.mjs,
# documents.test.mjs, open-with.test.mjs, openai.test.mjs and xss.test.mjs, in that order (node --test,
# no npm packages), against the debug
# binaries (the app, and `smolvlm` for a second server) with a fresh HOME/XDG data dir.
# Screenshots and logs go to target/e2e-artifacts/.
#
#   cargo build -p smolvlm-desktop      # after `npm --prefix ui run build` (the UI is embedded)
#   bash scripts/e2e.sh                 # all tests
#   bash scripts/e2e.sh --test-name-pattern=restart   # extra args go to `node --test`
#
# Environment: SMOLVLM_E2E_BINARY (default target/debug/smolvlm-desktop), SMOLVLM_E2E_CLI (default
# target/debug/smolvlm), SMOLVLM_E2E_KEEP=1 keeps the temporary HOME (app data, hub cache),
# SMOLVLM_E2E_HUB_RATE (bytes/s the hub sends, default 4e6), SMOLVLM_E2E_FILES (the test files,
# space-separated), SMOLVLM_E2E_TIMEOUT_S (default 900).
# Needs: xvfb, xauth, webkit2gtk-driver (scripts/setup-system.sh), node >= 18, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BIN=${SMOLVLM_E2E_BINARY:-$ROOT/target/debug/smolvlm-desktop}
CLI=${SMOLVLM_E2E_CLI:-$ROOT/target/debug/smolvlm}
ART=$ROOT/target/e2e-artifacts
FIXTURE=$ROOT/tests/fixtures/tiny-smolvlm

for tool in Xvfb WebKitWebDriver node python3; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool not found (run scripts/setup-system.sh)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "e2e: no app binary at $BIN (cargo build -p smolvlm-desktop)" >&2; exit 1; }
[ -x "$CLI" ] || { echo "e2e: no smolvlm binary at $CLI (cargo build -p smolvlm-cli)" >&2; exit 1; }

rm -rf "$ART"
mkdir -p "$ART"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/smolvlm-e2e.XXXXXX")
PIDS=()
WD_PID=""
cleanup() {
  local rc=$?
  # An app left running by an interrupted session is a child of the driver.
  if [ -n "$WD_PID" ] && command -v pgrep >/dev/null; then
    for pid in $(pgrep -P "$WD_PID" || true); do kill "$pid" 2>/dev/null || true; done
  fi
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${SMOLVLM_E2E_KEEP:-0}" = 1 ]; then echo "e2e: kept $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Wait until a file has a line (a server that prints when ready), or its process has died.
wait_for_line() { # file pid what
  for _ in $(seq 1 200); do
    if [ -s "$1" ] && grep -q . "$1"; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "e2e: $3 exited early" >&2; return 1; }
    sleep 0.05
  done
  echo "e2e: $3 did not start" >&2
  return 1
}

# 1. A virtual display: Xvfb picks a free display number and writes it to fd 3 when ready.
Xvfb -displayfd 3 -screen 0 1280x900x24 -nolisten tcp 3>"$WORK/display" >"$ART/xvfb.log" 2>&1 &
PIDS+=($!)
wait_for_line "$WORK/display" "${PIDS[-1]}" Xvfb
export DISPLAY=":$(head -n1 "$WORK/display")"

# 2. The test hub (every repository it is asked for is the tiny fixture model).
python3 tests/e2e/hub.py --port 0 --rate "${SMOLVLM_E2E_HUB_RATE:-4000000}" --fixture "$FIXTURE" \
  >"$WORK/hub.port" 2>"$ART/hub.log" &
PIDS+=($!)
wait_for_line "$WORK/hub.port" "${PIDS[-1]}" "test hub"
HUB_PORT=$(awk '/^PORT/ {print $2}' "$WORK/hub.port")

# 2b. A private D-Bus session bus when dbus-daemon is there, never the user's: there, a running
# SmolVLM Desktop would be handed the test app's command line (single instance) and the test app
# would exit. No service directory: nothing is activated on it. Without dbus-daemon the app runs
# without a bus, which it must survive (open-with.test.mjs checks that either way).
unset DBUS_SESSION_BUS_ADDRESS
DBUS_ADDRESS=""
if command -v dbus-daemon >/dev/null; then
  printf '%s\n' '<busconfig><type>session</type>' "<listen>unix:dir=$WORK</listen>" \
    '<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>' \
    '<allow own="*"/></policy>' \
    '</busconfig>' >"$WORK/dbus.conf"
  dbus-daemon --config-file="$WORK/dbus.conf" --nofork --nopidfile --print-address=3 \
    3>"$WORK/dbus.address" >"$ART/dbus.log" 2>&1 &
  PIDS+=($!)
  wait_for_line "$WORK/dbus.address" "${PIDS[-1]}" dbus-daemon
  DBUS_ADDRESS=$(head -n1 "$WORK/dbus.address")
fi

# 3. An isolated user: app data, config, HF cache all under $WORK/home. The driver passes its
# environment on to the app it starts, for both sessions (so a restart keeps the data).
mkdir -p "$WORK/home" "$WORK/runtime" "$WORK/files"
chmod 700 "$WORK/runtime"
unset HF_HOME HF_HUB_CACHE HUGGINGFACE_HUB_CACHE HF_TOKEN HF_TOKEN_PATH HF_HUB_OFFLINE \
  SMOLVLM_DESKTOP_DATA_DIR WAYLAND_DISPLAY
export HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share" XDG_CONFIG_HOME="$WORK/home/.config" \
  XDG_CACHE_HOME="$WORK/home/.cache" XDG_RUNTIME_DIR="$WORK/runtime"
export HF_ENDPOINT="http://127.0.0.1:$HUB_PORT"
export TAURI_WEBVIEW_AUTOMATION=true GDK_BACKEND=x11 NO_AT_BRIDGE=1
if [ -n "$DBUS_ADDRESS" ]; then export DBUS_SESSION_BUS_ADDRESS="$DBUS_ADDRESS"; fi

# 4. WebKitWebDriver (it starts the app for each session).
WD_PORT=$(free_port)
WebKitWebDriver --port="$WD_PORT" >"$ART/webdriver.log" 2>&1 &
WD_PID=$!
PIDS+=("$WD_PID")

# 5. The tests.
export WEBDRIVER_URL="http://127.0.0.1:$WD_PORT" APP_BINARY="$BIN" SMOLVLM_E2E_CLI="$CLI" \
  E2E_ARTIFACTS="$ART" E2E_WORK="$WORK/files" E2E_FIXTURE="$FIXTURE"
echo "e2e: display $DISPLAY, driver :$WD_PORT, hub $HF_ENDPOINT, home $HOME, bus ${DBUS_ADDRESS:-none}"
set +e
# One file at a time: they share the driver (one session at a time) and the data dir. node --test
# runs its files in name order, so app.test.mjs (which wants a fresh data dir) goes first.
# SMOLVLM_E2E_FILES replaces the list (scripts/soak.sh), SMOLVLM_E2E_TIMEOUT_S the time limit.
# shellcheck disable=SC2086 # a list of paths without spaces
timeout "${SMOLVLM_E2E_TIMEOUT_S:-900}" node --test --test-concurrency=1 --test-reporter=spec "$@" \
  ${SMOLVLM_E2E_FILES:-tests/e2e/app.test.mjs tests/e2e/documents.test.mjs \
    tests/e2e/open-with.test.mjs tests/e2e/openai.test.mjs tests/e2e/xss.test.mjs} 2>&1 | tee "$ART/test.log"
rc=${PIPESTATUS[0]}
set -e
echo "e2e: screenshots and logs in $ART (exit $rc)"
exit "$rc"
