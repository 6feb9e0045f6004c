# Shared helpers of the set-up scripts. Sourced, not run.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/authdesk/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"

# The one feature set of every debug cargo command of the test scripts. Each distinct
# feature set would compile the dependency graph again (a cold CI run pays for each).
# custom-protocol embeds ui/dist, so build the UI (ui_dist) before compiling with it.
CARGO_FEATURES="authdesk/ts-bindings,authdesk-desktop/custom-protocol"
# Where ts-rs writes during the tests: fixed, so changing it never forces a rebuild.
export TS_RS_EXPORT_DIR="$CARGO_TARGET_DIR/ts-bindings"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@" || sudo "$@"
  else die "need root to run: $*  (run as root or install sudo)"
  fi
}

# ensure_debs PKG...: installs the Debian/Ubuntu packages that are missing.
ensure_debs() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install these packages yourself: ${missing[*]}"
    step "installing system packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

ensure_rust() {
  command -v cargo >/dev/null 2>&1 || die "Rust is not installed: get it from https://rustup.rs (stable 1.85 or newer)"
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    command -v rustup >/dev/null 2>&1 && rustup component add rustfmt clippy
  fi
}

ensure_node() {
  if ! command -v npm >/dev/null 2>&1; then
    ensure_debs nodejs npm
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "Node.js 20 or newer is needed (found $(node --version)); install it from https://nodejs.org"
}

# ui_deps: installs the window's npm packages when package-lock.json changed.
ui_deps() {
  local stamp="$REPO_ROOT/ui/node_modules/.authdesk-lock-hash"
  local hash
  hash="$(sha256sum "$REPO_ROOT/ui/package-lock.json" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
    step "installing the window's npm packages"
    # `npm install` honours the lock; `npm ci` rejects it because npm 11 records only
    # this platform's optional @tauri-apps/cli-* packages.
    (cd "$REPO_ROOT/ui" && npm install --no-audit --no-fund --loglevel=error)
    echo "$hash" > "$stamp"
  fi
}

# ui_dist: builds ui/dist (the front end that custom-protocol builds embed).
ui_dist() {
  step "building the window's front end (ui/dist)"
  npm --prefix "$REPO_ROOT/ui" run build --silent >/dev/null
}

# Packages the desktop app needs to build and run (see shared notes on Tauri/Linux).
DESKTOP_BUILD_DEBS=(build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev)
# Packages the tests need: a virtual display, WebKit's WebDriver, a browser, Python venvs;
# and for the trust-store tests (`ca install`): the public roots and update-ca-certificates,
# certutil, a JRE with keytool, setpriv and unshare.
TEST_DEBS=(xvfb xauth dbus webkit2gtk-driver imagemagick xdotool chromium python3-venv curl
           ca-certificates libnss3-tools default-jre-headless util-linux)
