#!/usr/bin/env bash
# Regenerates ui/src/bindings (the TypeScript mirrors of the Rust types the window
# shares: the core's and the desktop shell's) with ts-rs.
#
#   scripts/desktop-bindings.sh           # rewrite ui/src/bindings
#   scripts/desktop-bindings.sh --check   # fail if ui/src/bindings is stale (CI)
#   scripts/desktop-bindings.sh --compare # only compare what the tests already exported
#
# The export tests write into $CARGO_TARGET_DIR/ts-bindings, so the check never touches
# the tree. They build with the test command's feature set (scripts/lib.sh), so in CI
# this step shares its compilation with the test run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
OUT=$TS_RS_EXPORT_DIR

if [[ "${1:-}" != "--compare" ]]; then
  [[ -f ui/dist/index.html ]] || ui_dist
  rm -rf "$OUT" && mkdir -p "$OUT"
  cargo test -q --locked --workspace --features "$CARGO_FEATURES" --lib export_bindings >"$OUT.log" 2>&1 \
    || { cat "$OUT.log" >&2; exit 1; }
  rm -f "$OUT.log"
fi

if [[ "${1:-}" == "--check" || "${1:-}" == "--compare" ]]; then
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
