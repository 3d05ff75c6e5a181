#!/usr/bin/env bash
# Builds SmolVLM Desktop's Linux packages with tauri's bundler (@tauri-apps/cli, pinned in
# ui/package.json): a .deb and an .rpm holding the app, its desktop entry ("Open with" for images
# and PDFs), its icons, and the `smolvlm` command in /usr/bin beside the app. docs/packaging.md says
# what each holds; scripts/test-package.sh installs the .deb into a clean Debian root and starts it.
#
#   bash scripts/package.sh          # release binaries, stripped, in target/dist (what people install)
#   bash scripts/package.sh --debug  # the dev profile's binaries in target/ as the tests built them (CI)
#
# Packages land in <target dir>/<profile>/bundle/{deb,rpm}/; the last lines printed are their paths.
# SMOLVLM_BUNDLES picks the kinds (default deb,rpm; tauri's AppImage bundler downloads linuxdeploy
# from GitHub, which these machines cannot reach — see docs/packaging.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

MODE=release
case "${1:-}" in
  "") ;;
  --debug) MODE=debug ;;
  *) echo "usage: bash scripts/package.sh [--debug]" >&2; exit 2 ;;
esac
BUNDLES=${SMOLVLM_BUNDLES:-deb,rpm}

[ -x ui/node_modules/.bin/tauri ] || (cd ui && npm ci --no-audit --no-fund)
# The UI is embedded in the app binary at build time.
# --debug packages what the tests built, the UI included: building it again would give its files
# new times, and the app (which embeds them) would be compiled again.
[ "$MODE" = release ] && npm --prefix ui run build

# Empty arrays are expanded as ${a[@]+"${a[@]}"}: macOS's bash 3.2 calls "${a[@]}" unbound.
# Other systems (the release workflow, .github/workflows/release.yml): SMOLVLM_TARGET, a target
# triple or universal-apple-darwin (both Mac architectures, joined by lipo), and SMOLVLM_FEATURES,
# e.g. smolvlm/metal. Unverified here: only Linux runs this script on these machines.
TARGET=${SMOLVLM_TARGET:-}
FEATURES=()
[ -n "${SMOLVLM_FEATURES:-}" ] && FEATURES=(--features "$SMOLVLM_FEATURES")
TRIPLE=${TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
EXE=""
case "$TRIPLE" in *windows*) EXE=.exe ;; esac
[ "$MODE" = debug ] && [ -n "$TARGET" ] && { echo "package: --debug builds for this machine only" >&2; exit 2; }
BUNDLE_FLAGS=()
[ -n "$TARGET" ] && BUNDLE_FLAGS+=(--target "$TARGET")

if [ "$MODE" = release ]; then
  # Its own target dir: the release profile keeps line tables for profiling benchmarks; a package
  # ships stripped binaries, and switching the profile's settings in target/ would rebuild both.
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/dist}
  export CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols
  build() { cargo build --release --locked -p smolvlm-desktop -p smolvlm-cli ${FEATURES[@]+"${FEATURES[@]}"} "$@"; }
  if [ "$TARGET" = universal-apple-darwin ]; then
    build --target aarch64-apple-darwin
    build --target x86_64-apple-darwin
    BIN_DIR=$CARGO_TARGET_DIR/universal-apple-darwin/release
    mkdir -p "$BIN_DIR"
    for b in smolvlm smolvlm-desktop; do
      lipo -create -output "$BIN_DIR/$b" "$CARGO_TARGET_DIR"/{aarch64,x86_64}-apple-darwin/release/"$b"
    done
  elif [ -n "$TARGET" ]; then
    build --target "$TARGET"
    BIN_DIR=$CARGO_TARGET_DIR/$TARGET/release
  else
    build
    BIN_DIR=$CARGO_TARGET_DIR/release
  fi
else
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
  # The selection scripts/test.sh builds (a narrower one resolves other features and recompiles
  # tauri): after the tests this only checks that everything is fresh.
  cargo build --workspace --all-targets --locked ${FEATURES[@]+"${FEATURES[@]}"}
  BIN_DIR=$CARGO_TARGET_DIR/debug
  BUNDLE_FLAGS+=(--debug)
fi

# tauri's CLI takes the app's crate to be the folder of tauri.conf.json, with a Cargo.toml that has
# the package's name, version and binary. Here the configuration's one copy sits at the top of the
# workspace (whose Cargo.toml is virtual) and the crate in src-tauri/, so the CLI is given a folder
# that links the configuration and what its relative paths name, beside a manifest that states the
# app's name and version as cargo reports them. Its `[workspace]` makes it a root of its own, so
# `cargo metadata` there answers without the workspace; the target dir comes from CARGO_TARGET_DIR.
STAGE=$ROOT/target/package/tauri-app
rm -rf "$STAGE"
mkdir -p "$STAGE/src-tauri"
ln -s "$ROOT/tauri.conf.json" "$STAGE/tauri.conf.json"
ln -s "$ROOT/icons" "$STAGE/icons"
ln -s "$ROOT/src-tauri/bundle" "$STAGE/src-tauri/bundle"
read -r NAME VERSION DESCRIPTION < <(cargo metadata --no-deps --format-version 1 --locked |
  python3 -c '
import json, sys
pkg = next(p for p in json.load(sys.stdin)["packages"] if p["name"] == "smolvlm-desktop")
print(pkg["name"], pkg["version"], pkg["description"])')
cat >"$STAGE/Cargo.toml" <<EOF
# Made by scripts/package.sh for tauri's bundler; not built.
[package]
name = "$NAME"
version = "$VERSION"
description = "$DESCRIPTION"
license = "Apache-2.0"
edition = "2024"

[[bin]]
name = "$NAME"
path = "$ROOT/src-tauri/src/main.rs"

[workspace]
EOF

[ -x "$BIN_DIR/smolvlm$EXE" ] && [ -x "$BIN_DIR/$NAME$EXE" ] || { echo "package: binaries missing in $BIN_DIR" >&2; exit 1; }
# The CLI travels as one of tauri's external binaries (installed beside the app: /usr/bin on
# Linux, the .app's MacOS/ folder, the install folder on Windows), named for the target as the
# bundler expects. Given here, not in tauri.conf.json: tauri-build would require the file in every
# cargo build.
mkdir -p "$STAGE/binaries"
cp "$BIN_DIR/smolvlm$EXE" "$STAGE/binaries/smolvlm-$TRIPLE$EXE"
EXTRA='{"bundle":{"externalBin":["binaries/smolvlm"]}}'
# Linux packages take their name from the product name, kebab-cased ("smol-vlm-desktop"): they are
# named for the binary instead, so people `apt install smolvlm-desktop`. The menu's name stays
# "SmolVLM Desktop" (src-tauri/bundle/linux/smolvlm-desktop.desktop).
case "$TRIPLE" in
  *linux*) EXTRA='{"productName":"smolvlm-desktop","bundle":{"externalBin":["binaries/smolvlm"]}}' ;;
esac

OUT=$BIN_DIR/bundle
rm -rf "$OUT"
# --no-binary-patching: the bundler would otherwise rewrite cargo's output in place (a marker for
# tauri's updater, which this app does not use).
# SMOLVLM_BUNDLE_CONFIG: more configuration as JSON, merged last (the release workflow's signing
# settings). Without it nothing is signed.
SIGN=()
[ -n "${SMOLVLM_BUNDLE_CONFIG:-}" ] && SIGN+=(--config "$SMOLVLM_BUNDLE_CONFIG")
[ -z "${SMOLVLM_BUNDLE_CONFIG:-}${APPLE_SIGNING_IDENTITY:-}" ] && SIGN+=(--no-sign)
(cd "$STAGE" && "$ROOT/ui/node_modules/.bin/tauri" bundle --ci --no-binary-patching \
  --bundles "$BUNDLES" ${BUNDLE_FLAGS[@]+"${BUNDLE_FLAGS[@]}"} --config "$EXTRA" ${SIGN[@]+"${SIGN[@]}"})

echo "package: version $VERSION ($MODE binaries)"
# One path a line, after their sizes: scripts/test-package.sh and CI take the paths from here.
find "$OUT" -maxdepth 3 -type f \( -name '*.deb' -o -name '*.rpm' -o -name '*.AppImage' -o -name '*.dmg' -o -name '*.msi' -o -name '*-setup.exe' \) | sort |
  while read -r pkg; do echo "package: $(du -k "$pkg" | cut -f1) KiB $(basename "$pkg")"; done
find "$OUT" -maxdepth 3 -type f \( -name '*.deb' -o -name '*.rpm' -o -name '*.AppImage' -o -name '*.dmg' -o -name '*.msi' -o -name '*-setup.exe' \) | sort
