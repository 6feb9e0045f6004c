#!/usr/bin/env bash
# Builds the release app and its Linux packages (.deb and .rpm, the desktop app plus the
# `authdesk` CLI) with the Tauri CLI from ui/node_modules (@tauri-apps/cli). About 20
# minutes on 2 cores from clean, a few minutes when the release build is warm.
#
#   scripts/desktop-bundle.sh
#
# Packages land in $CARGO_TARGET_DIR/release/bundle/{deb,rpm}/ (the script prints them).
# Install with `sudo apt install ./Authdesk_*.deb` or `sudo dnf install ./Authdesk-*.rpm`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/authdesk/target}

scripts/desktop-deps.sh
# The headless CLI (`authdesk serve`, …) ships in the same packages as /usr/bin/authdesk.
cargo build --release -p authdesk --bin authdesk
CLI=$CARGO_TARGET_DIR/release/authdesk
FILES="{\"/usr/bin/authdesk\": \"$CLI\"}"
EXTRA="{\"bundle\": {\"linux\": {\"deb\": {\"files\": $FILES}, \"rpm\": {\"files\": $FILES}}}}"
# Run from ui/ (the front end, whose package.json holds the CLI) with the Rust app in
# ../src-tauri; tauri.conf.json's beforeBuildCommand (`npm run build`) fills ui/dist first.
(cd ui && TAURI_APP_PATH=../src-tauri npx --no-install tauri build --bundles deb,rpm --config "$EXTRA" "$@")

echo
ls -l "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb "$CARGO_TARGET_DIR"/release/bundle/rpm/*.rpm
