#!/usr/bin/env bash
# The core's dependency direction, checked by grep until the crate is split:
#   model, error, clock, keys, tls, events, log → store → core → oauth → http → server → cli
# src/oauth/ (the protocol) never names axum, hyper, HeaderMap or crate::http; the
# layers below it never name oauth, http, server or cli. Comment lines are ignored.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

code_lines() { grep -rnE "$1" "${@:2}" | grep -vE '^[^:]+:[0-9]+:\s*//' || true; }

failed=0
found="$(code_lines '\baxum\b|\bhyper\b|\bHeaderMap\b|crate::http\b' src/oauth)"
if [ -n "$found" ]; then
  printf 'src/oauth/ must not name the HTTP layer (axum, hyper, HeaderMap, crate::http):\n%s\n' "$found" >&2
  failed=1
fi
lower=(src/store src/core.rs src/model.rs src/keys.rs src/tls.rs src/events.rs src/log.rs
       src/error.rs src/clock.rs src/config.rs src/password.rs src/fsutil.rs src/mem.rs src/seed.rs
       src/trust)
found="$(code_lines 'crate::(oauth|http|server|cli)\b' "${lower[@]}")"
if [ -n "$found" ]; then
  printf 'the layers below oauth/ must not name oauth, http, server or cli:\n%s\n' "$found" >&2
  failed=1
fi
found="$(code_lines 'crate::store\b|\.pool\(\)' src/http)"
if [ -n "$found" ]; then
  printf 'src/http/ must not touch the store (call oauth or core):\n%s\n' "$found" >&2
  failed=1
fi
[ "$failed" = 0 ] && echo "layers: ok"
exit "$failed"
