#!/usr/bin/env bash
# Regenerates ui/src/bindings from the Rust types (ts-rs).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
cargo test -q -p authdesk --features ts-bindings --lib export_bindings >/dev/null
if [ -d src-tauri ] && grep -q 'ts-rs' src-tauri/Cargo.toml 2>/dev/null; then
  cargo test -q -p authdesk-desktop export_bindings >/dev/null
fi
echo "regenerated ui/src/bindings"
