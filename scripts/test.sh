#!/usr/bin/env bash
# Runs every check and test of Authdesk: formatting, lints, the core's unit and
# integration tests, the desktop shell's tests, the window's type-check and unit
# tests, the Python client-library suite, the browser consent test and the end-to-end
# test of the real window under Xvfb. Installs what it needs first.
#
#   bash scripts/test.sh
#
# CARGO_TARGET_DIR defaults to ~/.cache/authdesk/target (shared with scripts/run.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
started=$SECONDS

step "checking prerequisites"
ensure_rust
ensure_debs "${DESKTOP_BUILD_DEBS[@]}" "${TEST_DEBS[@]}"
ensure_node
ui_deps

step "cargo fmt --check"
cargo fmt --all --check

step "architecture: the protocol (src/oauth) never names the HTTP layer"
bash scripts/check-layers.sh

step "window: type-check, lint and unit tests"
npm --prefix ui run check
if grep -q '"lint"' ui/package.json; then npm --prefix ui run lint; fi
npm --prefix ui test
# Every cargo command below builds with $CARGO_FEATURES, whose custom-protocol embeds ui/dist.
ui_dist

step "cargo clippy --workspace --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked --features "$CARGO_FEATURES" -- -D warnings

step "Rust tests: core (unit, integration) and desktop shell (commands on the mock runtime)"
# One invocation, one feature set: the shell's tests, the CLI binary the Python and
# browser suites run, the window binary of the e2e test and the ts-rs exports all come
# out of this one build.
rm -rf "$TS_RS_EXPORT_DIR" && mkdir -p "$TS_RS_EXPORT_DIR"
cargo test --locked --workspace --features "$CARGO_FEATURES"

step "generated TypeScript types are current"
bash scripts/desktop-bindings.sh --compare

step "Python client libraries (Authlib, oauthlib) against authdesk serve"
bash tests/python/run.sh

step "JavaScript client libraries (oauth4webapi, openid-client, jose) against authdesk serve"
bash tests/js/run.sh

if [ -f tests/browser/run.sh ]; then
  step "browser: consent page in headless Chromium"
  bash tests/browser/run.sh
fi

if [ -f scripts/desktop-e2e.sh ]; then
  step "desktop: end-to-end test of the real window under Xvfb"
  bash scripts/desktop-e2e.sh
fi

step "all tests passed in $((SECONDS - started))s"
