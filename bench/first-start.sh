#!/usr/bin/env bash
# The first start on a new data directory, to the first client_credentials token, with
# the sample seed (`serve --seed examples/seed.yaml`): RUNS launches of each binary given
# (default: the release build), alternating, each on a fresh directory. Uses the
# benchmark's `coldstart` timer (built by bench/run.sh, or: cargo build --release
# --manifest-path bench/ceiling/Cargo.toml).
#
#   bash bench/first-start.sh [BINARY...]          RUNS=5 by default
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="${CARGO_TARGET_DIR:-$HOME/.cache/authdesk/target-bench}"
timer="$target/release/coldstart"
[ -x "$timer" ] || { echo "no $timer; run bench/run.sh once (or build bench/ceiling)" >&2; exit 2; }
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=("$target/release/authdesk")
seed="$here/../examples/seed.yaml"
basic="Basic $(printf 'service:service-secret-with-at-least-32-bytes!!' | base64 -w0)"
body='grant_type=client_credentials&scope=api.read%20api.write'
for round in $(seq 1 "${RUNS:-5}"); do
  for bin in "${bins[@]}"; do
    dir="$(mktemp -d)"
    chmod 700 "$dir"
    "$bin" --data-dir "$dir/data" ca export --format pem --out "$dir/ca.pem" >/dev/null 2>&1
    ms="$("$timer" --runs 1 --cacert "$dir/ca.pem" --auth "$basic" --body "$body" -- \
      "$bin" --data-dir "$dir/data" serve --port '{port}' --seed "$seed" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["runs_ms"][0])')"
    echo "round $round  $bin  ${ms} ms"
    rm -rf "$dir"
  done
done
