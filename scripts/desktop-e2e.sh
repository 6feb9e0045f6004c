#!/usr/bin/env bash
# End-to-end test of the real Authdesk window under a virtual display.
#
#   scripts/desktop-e2e.sh                 # build, run e2e/window.test.mjs, screenshots in e2e/screenshots/
#   scripts/desktop-e2e.sh --update-docs   # also copy the README's screenshots to docs/screenshots/
#
# It builds the UI and the app with the front end embedded, installs tauri-driver if
# missing, starts Xvfb on a free display, a private session bus and tauri-driver, and runs
# the WebdriverIO test against a fresh data directory, HOME and XDG dirs and a free port
# for the provider. Everything it starts is stopped by process group on exit. Then
# e2e/tray.test.mjs checks the app's life in the tray on the same binary and display.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/authdesk/target}
UPDATE_DOCS=0
[[ "${1:-}" == "--update-docs" ]] && UPDATE_DOCS=1

log() { printf '\n== %s\n' "$*"; }

scripts/desktop-deps.sh
source scripts/lib.sh
ensure_debs libnss3-tools   # certutil, for the trust-store step

log "building the UI and the app (front end embedded) and the CLI"
ui_dist
# custom-protocol (in $CARGO_FEATURES) serves ui/dist from inside the binary (a plain
# debug build would load the Vite dev URL). The test build makes both binaries, with the
# feature set of scripts/test.sh, so after the test run this is a no-op. The app is
# copied aside at once, so a later `cargo build` cannot replace the tested one.
cargo test --locked --workspace --features "$CARGO_FEATURES" --no-run
APP_DIR=$CARGO_TARGET_DIR/e2e-app
mkdir -p "$APP_DIR"
cp "$CARGO_TARGET_DIR/debug/authdesk-desktop" "$APP_DIR/authdesk-desktop"
CLI=$CARGO_TARGET_DIR/debug/authdesk

if ! command -v tauri-driver >/dev/null; then
  log "installing tauri-driver"
  # A debug build: it only relays WebDriver commands, and compiles in half the time.
  cargo install tauri-driver --version '^2' --locked --debug
fi

WORK=$(mktemp -d -t authdesk-e2e.XXXXXX)
PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  if [[ $rc -ne 0 ]]; then
    echo "logs kept in $WORK (tauri-driver.log, xvfb.log)" >&2
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT INT TERM

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

DISPLAY_NUM=99
while [[ -e /tmp/.X11-unix/X$DISPLAY_NUM || -e /tmp/.X$DISPLAY_NUM-lock ]]; do DISPLAY_NUM=$((DISPLAY_NUM + 1)); done
log "Xvfb on :$DISPLAY_NUM"
setsid Xvfb ":$DISPLAY_NUM" -screen 0 1280x800x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [[ -e /tmp/.X11-unix/X$DISPLAY_NUM ]] && break; sleep 0.1; done
[[ -e /tmp/.X11-unix/X$DISPLAY_NUM ]] || { echo "Xvfb did not start" >&2; cat "$WORK/xvfb.log" >&2; exit 1; }

# The app, started by WebKitWebDriver, inherits this environment: its own data dir,
# HOME and XDG dirs (never the real ones), any free port, exports without a dialog.
mkdir -p "$WORK"/{data,home,xdg-data,xdg-config,xdg-cache,exports}
export DISPLAY=:$DISPLAY_NUM
export HOME=$WORK/home XDG_DATA_HOME=$WORK/xdg-data XDG_CONFIG_HOME=$WORK/xdg-config XDG_CACHE_HOME=$WORK/xdg-cache
export AUTHDESK_DATA_DIR=$WORK/data AUTHDESK_EXPORT_DIR=$WORK/exports AUTHDESK_PORT=0
# No system browser under Xvfb: the debugger's "Try a sign-in" only shows the URL, and
# the test follows it with its own HTTP client.
export AUTHDESK_NO_BROWSER=1
# The Certificates view's trust stores, never the machine's: a Debian-layout system store
# under a root of its own (empty), an NSS database in HOME (as Chromium makes it), no JDK.
export AUTHDESK_TRUST_ROOT=$WORK/trust-root AUTHDESK_JAVA_HOMES=
mkdir -p "$AUTHDESK_TRUST_ROOT"/{usr/local/share/ca-certificates,usr/share/ca-certificates,etc/ssl/certs} "$HOME/.pki/nssdb"
: >"$AUTHDESK_TRUST_ROOT/etc/ca-certificates.conf"
certutil -N -d "sql:$HOME/.pki/nssdb" --empty-password
export AUTHDESK_APP=$APP_DIR/authdesk-desktop AUTHDESK_CLI=$CLI
export SCREENSHOT_DIR=$ROOT/e2e/screenshots
export RUST_LOG=${RUST_LOG:-info}
mkdir -p "$SCREENSHOT_DIR"
rm -f "$SCREENSHOT_DIR"/*.png

export TAURI_DRIVER_PORT=$(free_port)
NATIVE_PORT=$(free_port)
log "tauri-driver on 127.0.0.1:$TAURI_DRIVER_PORT"
TAURI_DRIVER=$(command -v tauri-driver)
setsid dbus-run-session -- "$TAURI_DRIVER" --port "$TAURI_DRIVER_PORT" --native-port "$NATIVE_PORT" \
  >"$WORK/tauri-driver.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$TAURI_DRIVER_PORT/status" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$TAURI_DRIVER_PORT/status" >/dev/null || { echo "tauri-driver did not start" >&2; cat "$WORK/tauri-driver.log" >&2; exit 1; }

log "window test"
node e2e/window.test.mjs

log "tray test (start minimized, open, close to the tray, open again)"
TRAY_WORK=$WORK/tray node e2e/tray.test.mjs

if ((UPDATE_DOCS)); then
  mkdir -p docs/screenshots
  for s in clients client-snippets requests requests-consent tokens users certificates settings \
           clients-first-run debugger-trial debugger-explain debugger-fix requests-compare \
           faults generate-token; do
    cp "$SCREENSHOT_DIR/$s.png" "docs/screenshots/$s.png"
  done
  echo "copied to docs/screenshots/"
fi
