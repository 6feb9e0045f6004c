#!/usr/bin/env bash
# Authdesk's performance benchmark: one command, see bench/README.md.
#
#   bash bench/run.sh
#
# Options (environment):
#   BENCH_DURATION=10s         length of each measured load run (wrk -d)
#   BENCH_WARMUP=2s            warm-up before each measured run (0 to skip)
#   BENCH_RUNS=3               repetitions; every figure is the median over them
#   BENCH_TOKENS=0             >0: also measure authdesk on a database pre-filled with
#                              this many stored tokens (e.g. 1000000)
#   BENCH_TOKENS_OLD_PERCENT=10  share of those expired over a day ago (pruned at start)
#   BENCH_CONCURRENCY=1,16,64  concurrencies of the client_credentials runs
#   BENCH_HEAVY_CONCURRENCY=16,64  concurrencies of the introspection runs
#   BENCH_LOGIN_CONCURRENCY=1,16,64  concurrencies of the auth-code + PKCE login runs
#   BENCH_COLDSTART_RUNS=10    launches per server per repetition for cold start
#   BENCH_SERVERS=ceiling,floor,authdesk,node-oidc
#   BENCH_AUTHDESK_ARGS=       extra `serve` arguments for Authdesk under load, e.g. --durability full
#   BENCH_DESKTOP=auto         0: skip the desktop app; auto: measure it if its binary exists
#   BENCH_DESKTOP_BIN=…        default $CARGO_TARGET_DIR/release/authdesk-desktop
#   BENCH_BUILD_DESKTOP=0      1: build that binary first (needs ui/dist and the WebKitGTK dev packages)
#   BENCH_SKIP_BUILD=0         1: use the release binaries as they are
#   BENCH_OUT=bench/results    where latest.{json,md} and timestamped copies go
#   BENCH_KEEP_WORK=0          1: keep the temporary work dir (data dirs, server logs)
#   CARGO_TARGET_DIR           default ~/.cache/authdesk/target-bench
#
# Exit status: 0 for a valid run, 1 when any load run saw an error or a wrong answer
# (the results are still written, marked invalid), 2 when the run could not complete.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/authdesk/target-bench}"

say() { printf '[bench] %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
apt_updated=0
need_apt() { # need_apt COMMAND PACKAGE
    command -v "$1" >/dev/null && return 0
    say "installing $2 (for $1)"
    if [ "$apt_updated" = 0 ]; then $SUDO apt-get update -qq >/dev/null; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$2" >/dev/null
}

# -- tools
need_apt wrk wrk
need_apt openssl openssl
need_apt curl curl
if [ "${BENCH_TOKENS:-0}" != 0 ]; then need_apt sqlite3 sqlite3; fi
command -v node >/dev/null && command -v npm >/dev/null || { say "node and npm are required (node-oidc-provider and the harness)"; exit 2; }
command -v cargo >/dev/null || { say "cargo is required"; exit 2; }

# -- node-oidc-provider (pinned by bench/peers/node-oidc/package-lock.json)
PEER="$ROOT/bench/peers/node-oidc"
if [ ! -f "$PEER/node_modules/oidc-provider/package.json" ] \
   || [ "$PEER/package-lock.json" -nt "$PEER/node_modules/.package-lock.json" ]; then
    say "npm ci in bench/peers/node-oidc"
    (cd "$PEER" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# -- release binaries, one cargo at a time
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    say "cargo build --release -p authdesk   (target dir $CARGO_TARGET_DIR)"
    cargo build --release --quiet -p authdesk
    say "cargo build --release --manifest-path bench/ceiling/Cargo.toml"
    cargo build --release --quiet --manifest-path bench/ceiling/Cargo.toml
    if [ "${BENCH_BUILD_DESKTOP:-0}" = 1 ]; then
        say "cargo build --release -p authdesk-desktop --features tauri/custom-protocol"
        cargo build --release --quiet -p authdesk-desktop --features tauri/custom-protocol
    fi
fi
export BENCH_AUTHDESK_BIN="$CARGO_TARGET_DIR/release/authdesk"
export BENCH_CEILING_BIN="$CARGO_TARGET_DIR/release/ceiling"
export BENCH_FLOOR_BIN="$CARGO_TARGET_DIR/release/floor"
export BENCH_COLDSTART_BIN="$CARGO_TARGET_DIR/release/coldstart"
export BENCH_DESKTOP_BIN="${BENCH_DESKTOP_BIN:-$CARGO_TARGET_DIR/release/authdesk-desktop}"

# -- the desktop app's tools, only when there is an app to measure
if [ "${BENCH_DESKTOP:-auto}" != 0 ] && [ -x "$BENCH_DESKTOP_BIN" ]; then
    need_apt Xvfb xvfb
    need_apt xdotool xdotool
    need_apt xwd x11-apps
    need_apt dbus-run-session dbus
    need_apt python3 python3
fi

# -- the run; the harness stops every process it started (by PID) on exit or signal
node "$ROOT/bench/harness.mjs" &
harness=$!
trap 'kill -TERM "$harness" 2>/dev/null || true; wait "$harness" 2>/dev/null || true; exit 130' INT TERM HUP
set +e
wait "$harness"
status=$?
set -e
trap - INT TERM HUP
exit "$status"
