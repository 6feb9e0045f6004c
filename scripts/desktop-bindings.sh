#!/usr/bin/env bash
# Regenerates ui/src/bindings (the TypeScript mirrors of the Rust types the window
# shares: the core's and the desktop shell's) with ts-rs.
#
#   scripts/desktop-bindings.sh           # rewrite ui/src/bindings
#   scripts/desktop-bindings.sh --check   # fail if ui/src/bindings is stale (CI)
#
# Both generate into a temporary directory first, so the check never touches the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/authdesk/target}

OUT=$(mktemp -d -t authdesk-bindings.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
# An explicit TS_RS_EXPORT_DIR wins over the one in .cargo/config.toml.
TS_RS_EXPORT_DIR=$OUT cargo test -q -p authdesk --features ts-bindings --lib export_bindings >"$OUT.log" 2>&1 \
  || { cat "$OUT.log" >&2; exit 1; }
TS_RS_EXPORT_DIR=$OUT cargo test -q -p authdesk-desktop --lib export_bindings >>"$OUT.log" 2>&1 \
  || { cat "$OUT.log" >&2; exit 1; }
rm -f "$OUT.log"

if [[ "${1:-}" == "--check" ]]; then
  if ! diff -ru ui/src/bindings "$OUT"; then
    echo "ui/src/bindings is stale: run scripts/desktop-bindings.sh and commit the result" >&2
    exit 1
  fi
  echo "ui/src/bindings is up to date ($(ls "$OUT" | wc -l) files)"
else
  rm -f ui/src/bindings/*.ts
  cp "$OUT"/*.ts ui/src/bindings/
  echo "wrote $(ls "$OUT" | wc -l) files to ui/src/bindings"
fi
