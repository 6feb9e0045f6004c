#!/usr/bin/env bash
# Fails when ui/src/bindings differs from what the Rust types generate (ts-rs).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
TS_RS_EXPORT_DIR="$tmp" cargo test --locked -q -p authdesk --features ts-bindings --lib export_bindings >/dev/null
if [ -d src-tauri ] && grep -q 'ts-rs' src-tauri/Cargo.toml 2>/dev/null; then
  TS_RS_EXPORT_DIR="$tmp" cargo test --locked -q -p authdesk-desktop export_bindings >/dev/null
fi
stale=0
for f in "$tmp"/*.ts; do
  name="$(basename "$f")"
  if ! cmp -s "$f" "ui/src/bindings/$name"; then
    echo "stale: ui/src/bindings/$name"
    stale=1
  fi
done
if [ "$stale" = 1 ]; then
  echo "ui/src/bindings is out of date with the Rust types; regenerate with: bash scripts/gen-bindings.sh" >&2
  exit 1
fi
echo "bindings are current"
