#!/usr/bin/env bash
# System packages the app and its tests need on Debian/Ubuntu: WebKitGTK 4.1 and GTK 3 for Tauri 2,
# Node.js for the UI; Xvfb (+ xauth, only a Recommends of xvfb), WebKitWebDriver and python3 (the
# local test hub) for the end-to-end tests (scripts/e2e.sh). Skips what is already installed. Used
# by .ci/run and scripts/run-app.sh. cmake and nasm build the libjpeg-turbo that crates/smolvlm-image
# links (turbojpeg-sys builds it from source, SIMD required; docs/jpeg.md).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
APT_PACKAGES=(libwebkit2gtk-4.1-dev build-essential pkg-config curl wget file libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev xvfb xauth webkit2gtk-driver python3 python3-pip
  cmake nasm procps)
if ! command -v npm >/dev/null; then APT_PACKAGES+=(nodejs npm); fi
if dpkg -s "${APT_PACKAGES[@]}" >/dev/null 2>&1; then
  echo "system packages: already installed"
else
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"
fi
