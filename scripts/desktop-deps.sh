#!/usr/bin/env bash
# Installs what building and testing the desktop app needs on Debian/Ubuntu, when it is
# missing: WebKitGTK/GTK headers (build), Xvfb + WebKitWebDriver + ImageMagick (window
# tests and screenshots), and the UI's and e2e test's npm packages. The .deb and .rpm
# bundlers of the Tauri CLI need nothing more (they are written in Rust).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(pkg-config libssl-dev libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev
      xvfb xauth dbus webkit2gtk-driver imagemagick xdotool python3 curl)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "desktop-deps: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v node >/dev/null || { echo "desktop-deps: Node.js 20+ is required (apt-get install nodejs npm)" >&2; exit 1; }
[[ -d ui/node_modules ]] || npm --prefix ui install --no-audit --no-fund
# --ignore-scripts: webdriverio's optional browser-driver downloads are not needed (tauri-driver is used).
[[ -d e2e/node_modules ]] || npm --prefix e2e ci --no-audit --no-fund --ignore-scripts
