#!/usr/bin/env bash
# The consent page in a real browser: Debian's Chromium driven by playwright-core
# (no browser download) against `authdesk serve` with the sample seed. Chromium
# trusts the provider only through its CA, added to an NSS database in a temporary
# HOME; certificate errors are never ignored.
#
#   bash tests/browser/run.sh [node --test args…]
#
# Builds nothing: it runs the provider binary that is already there.
# Environment:
#   AUTHDESK_BIN      provider binary (default $CARGO_TARGET_DIR/debug/authdesk)
#   CARGO_TARGET_DIR  default $HOME/.cache/authdesk/target
#   CHROMIUM          browser executable (default /usr/bin/chromium)
#   UPDATE_SCREENSHOTS=1  also copy the consent page's screenshot to
#                     docs/screenshots/consent-page.png (committed) after a green run
# Screenshots go to tests/browser/screenshots/ (not committed).
# Exit code: the test runner's.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

here="$REPO_ROOT/tests/browser"
bin="${AUTHDESK_BIN:-$CARGO_TARGET_DIR/debug/authdesk}"
chromium="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$bin" ] || die "no provider binary at $bin; build it first: cargo build -p authdesk (or set AUTHDESK_BIN)"

# Chromium, and certutil to give it the CA.
[ -x "$chromium" ] || ensure_debs chromium
command -v certutil >/dev/null 2>&1 || ensure_debs libnss3-tools
ensure_node

# playwright-core only (its install downloads no browser), when the lock changed.
lock_hash="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
stamp="$here/node_modules/.authdesk-lock-hash"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
    step "installing the browser test's npm packages"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_hash" >"$stamp"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/authdesk-browser.XXXXXX")"
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Everything the provider and the browser write stays in $tmp.
export HOME="$tmp/home"
export XDG_DATA_HOME="$HOME/.local/share" XDG_CONFIG_HOME="$HOME/.config" XDG_CACHE_HOME="$HOME/.cache"
mkdir -p "$HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
unset AUTHDESK_DATA_DIR AUTHDESK_LOG
data="$tmp/data"

step "starting authdesk serve"
"$bin" serve --data-dir "$data" --port 0 --seed "$REPO_ROOT/examples/seed.yaml" \
    >"$tmp/serve.out" 2>"$tmp/serve.err" </dev/null &
pid=$!
issuer=""
for _ in $(seq 1 1200); do
    issuer="$(sed -n 's/^issuer //p' "$tmp/serve.out" | head -n1)"
    [ -n "$issuer" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
        cat "$tmp/serve.err" >&2
        die "authdesk serve exited before printing its issuer"
    fi
    sleep 0.1
done
if [ -z "$issuer" ]; then
    cat "$tmp/serve.err" >&2
    die "authdesk serve printed no issuer line within 120 s"
fi
echo "provider: $issuer (pid $pid)"

"$bin" ca export --data-dir "$data" --format pem --out "$tmp/ca.pem"
mkdir -p "$HOME/.pki/nssdb"
certutil -d "sql:$HOME/.pki/nssdb" -N --empty-password
certutil -d "sql:$HOME/.pki/nssdb" -A -t "C,," -n authdesk -i "$tmp/ca.pem"

step "consent page in headless Chromium"
set +e
AUTHDESK_BIN="$bin" AUTHDESK_TEST_ISSUER="$issuer" AUTHDESK_TEST_DATA_DIR="$data" \
    AUTHDESK_TEST_CA="$tmp/ca.pem" AUTHDESK_TEST_TMP="$tmp" CHROMIUM="$chromium" \
    AUTHDESK_TEST_SCREENSHOTS="$here/screenshots" \
    node --test --test-concurrency=1 "$@" "$here/consent.test.mjs" </dev/null
status=$?
set -e
if [ "$status" -ne 0 ]; then
    echo "--- authdesk serve stderr ---" >&2
    tail -n 50 "$tmp/serve.err" >&2
elif [ "${UPDATE_SCREENSHOTS:-}" = 1 ]; then
    mkdir -p "$REPO_ROOT/docs/screenshots"
    cp "$here/screenshots/consent-page.png" "$REPO_ROOT/docs/screenshots/consent-page.png"
    echo "updated docs/screenshots/consent-page.png"
fi
exit "$status"
