#!/usr/bin/env bash
# Builds and opens the Authdesk desktop app, installing what it needs first
# (system packages for Tauri/WebKitGTK, the window's npm packages).
#
#   bash scripts/run.sh              # the desktop app
#   bash scripts/run.sh --headless   # just the provider: authdesk serve (Ctrl-C stops it)
#
# Extra arguments after --headless go to `authdesk serve`, e.g. --seed examples/seed.yaml.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

if [ "${1:-}" = "--headless" ]; then
  shift
  ensure_rust
  ensure_debs build-essential pkg-config
  step "building authdesk (release)"
  cargo build --release --locked -p authdesk
  step "starting the provider"
  exec "$CARGO_TARGET_DIR/release/authdesk" serve "$@"
fi

ensure_rust
ensure_debs "${DESKTOP_BUILD_DEBS[@]}"
ensure_node
ui_deps
step "building the window's front end"
npm --prefix ui run build
step "building the desktop app (release, front end embedded)"
cargo build --release --locked -p authdesk-desktop --features tauri/custom-protocol
step "opening Authdesk"
exec "$CARGO_TARGET_DIR/release/authdesk-desktop" "$@"
