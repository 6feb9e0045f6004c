#!/usr/bin/env bash
# Authdesk against real JavaScript client libraries: oauth4webapi and openid-client
# (strict, spec-following clients) and jose, over verified TLS.
#
#   bash tests/js/run.sh [node --test args…] [files…]
#
# Each test file starts its own `authdesk serve` on a new data directory in a temporary
# directory (support.mjs) and trusts only that provider's CA, through its own fetch;
# the machine's CA bundle variables are unset so nothing else is trusted by accident.
# Builds nothing: it runs the provider binary that is already there.
# Environment:
#   AUTHDESK_BIN      provider binary (default $CARGO_TARGET_DIR/debug/authdesk)
#   CARGO_TARGET_DIR  default $HOME/.cache/authdesk/target
# Exit code: the test runner's.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

here="$REPO_ROOT/tests/js"
bin="${AUTHDESK_BIN:-$CARGO_TARGET_DIR/debug/authdesk}"
[ -x "$bin" ] || die "no provider binary at $bin; build it first: cargo build -p authdesk (or set AUTHDESK_BIN)"
ensure_node

lock_hash="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
stamp="$here/node_modules/.authdesk-lock-hash"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
    step "installing the JS client libraries"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_hash" >"$stamp"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/authdesk-js.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
unset REQUESTS_CA_BUNDLE SSL_CERT_FILE CURL_CA_BUNDLE NODE_EXTRA_CA_CERTS AUTHDESK_DATA_DIR AUTHDESK_LOG
export HOME="$tmp/home" XDG_DATA_HOME="$tmp/home/.local/share" XDG_CONFIG_HOME="$tmp/home/.config"
mkdir -p "$HOME"

files=()
args=()
for a in "$@"; do
    if [ -f "$a" ]; then files+=("$a"); else args+=("$a"); fi
done
[ "${#files[@]}" -gt 0 ] || files=("$here"/*.test.mjs)

AUTHDESK_BIN="$bin" AUTHDESK_TEST_TMP="$tmp" AUTHDESK_SEED="$REPO_ROOT/examples/seed.yaml" \
    node --test --test-concurrency=2 "${args[@]}" "${files[@]}" </dev/null
