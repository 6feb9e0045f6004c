#!/usr/bin/env bash
# Authdesk's Python client-library suite: real `authdesk serve`, real TLS through the
# exported CA, real Authlib / oauthlib / requests-oauthlib clients.
#
#   bash tests/python/run.sh [pytest args…]
#
# Environment:
#   AUTHDESK_VENV     virtualenv to create/reuse (default $HOME/.cache/authdesk/venv)
#   AUTHDESK_BIN      provider binary (default $CARGO_TARGET_DIR/debug/authdesk)
#   CARGO_TARGET_DIR  default $HOME/.cache/authdesk/target
#   PYTHON            interpreter that creates the venv (default python3)
# Exit code: pytest's.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${AUTHDESK_VENV:-$HOME/.cache/authdesk/venv}"
target="${CARGO_TARGET_DIR:-$HOME/.cache/authdesk/target}"
export AUTHDESK_BIN="${AUTHDESK_BIN:-$target/debug/authdesk}"
requirements="$here/requirements.txt"
stamp="$venv/.authdesk-requirements.sha256"

install() {
    # A venv whose interpreter no longer runs (Python upgraded, half-deleted) is rebuilt.
    if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
        rm -rf "$venv"
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    local want
    want="$("$venv/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$requirements")"
    if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
        echo "installing $(basename "$requirements") into $venv" >&2
        PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
            "$venv/bin/python" -m pip install --quiet -r "$requirements"
        printf '%s\n' "$want" >"$stamp"
    fi
}

mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null 2>&1; then
    # Two runs at once must not install into the same venv concurrently.
    exec 9>"$venv.lock"
    flock 9
    install
    flock -u 9
else
    install
fi

export PYTHONDONTWRITEBYTECODE=1
set +e
"$venv/bin/python" -m pytest -c "$here/pytest.ini" --rootdir "$here" "$here" "$@" </dev/null
status=$?
set -e
exit "$status"
