#!/usr/bin/env bash
# Where the provider's time goes under load: a CPU profile of `authdesk serve` while
# wrk drives one endpoint. This is the profile behind the README's "what bounds it".
#
#   bash bench/profile.sh                 # client_credentials tokens at concurrency 16
#   PROFILE_WHAT=introspect bash bench/profile.sh
#   PROFILE_WHAT=login bash bench/profile.sh
#   PROFILE_WHAT=userinfo bash bench/profile.sh   # alice's access token (PKCE login first)
#
# Options (environment): PROFILE_CONCURRENCY=16, PROFILE_SECONDS=10, PROFILE_SKIP_BUILD=1,
# CARGO_TARGET_DIR (default ~/.cache/authdesk/target-bench; the binary is built
# unstripped so perf can name functions). Needs perf (Debian: linux-perf) and wrk.
# Writes the perf data and reports to a temporary directory it prints.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/authdesk/target-bench}"
WHAT=${PROFILE_WHAT:-token}
C=${PROFILE_CONCURRENCY:-16}
SECS=${PROFILE_SECONDS:-10}
command -v perf >/dev/null || { echo "perf is required (apt-get install linux-perf)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 2; }

if [ "${PROFILE_SKIP_BUILD:-0}" != 1 ]; then
  CARGO_PROFILE_RELEASE_STRIP=false cargo build --release --quiet -p authdesk
fi
BIN=$CARGO_TARGET_DIR/release/authdesk
WORK=$(mktemp -d -t authdesk-profile.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$BIN" --data-dir "$WORK/data" ca export --format pem --out "$WORK/ca.pem" >/dev/null
"$BIN" --data-dir "$WORK/data" serve --port 0 --seed "$ROOT/examples/seed.yaml" \
  --auto-approve alice >"$WORK/issuer" 2>"$WORK/serve.log" &
PID=$!
for _ in $(seq 100); do grep -q '^issuer ' "$WORK/issuer" 2>/dev/null && break; sleep 0.05; done
ISSUER=$(sed -n 's/^issuer //p' "$WORK/issuer")
PORT=${ISSUER##*:}
AUTH="Basic $(printf 'service:service-secret-with-at-least-32-bytes!!' | base64 -w0)"
TOKEN_BODY='grant_type=client_credentials&scope=api.read%20api.write'

case "$WHAT" in
  token) SCRIPT="$ROOT/bench/wrk/post.lua"; ARGS=(/token "$TOKEN_BODY" access_token "$AUTH") ;;
  introspect)
    TOKEN=$(curl -s --cacert "$WORK/ca.pem" -H "Authorization: $AUTH" -d "$TOKEN_BODY" \
      "https://localhost:$PORT/token" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
    SCRIPT="$ROOT/bench/wrk/post.lua"; ARGS=(/introspect "token=$TOKEN" '"active":true' "$AUTH") ;;
  userinfo)
    REDIRECT=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback
    VERIFIER=bench-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz
    CHALLENGE=$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | base64 -w0 | tr '+/' '-_' | tr -d '=')
    LOCATION=$(curl -s -o /dev/null -w '%{redirect_url}' --cacert "$WORK/ca.pem" \
      "https://localhost:$PORT/authorize?response_type=code&client_id=spa&redirect_uri=$REDIRECT&scope=openid&state=s&code_challenge=$CHALLENGE&code_challenge_method=S256")
    CODE=$(printf '%s' "$LOCATION" | sed 's/.*code=\([^&]*\).*/\1/')
    TOKEN=$(curl -s --cacert "$WORK/ca.pem" -d "grant_type=authorization_code&client_id=spa&redirect_uri=$REDIRECT&code_verifier=$VERIFIER&code=$CODE" \
      "https://localhost:$PORT/token" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
    SCRIPT="$ROOT/bench/wrk/post.lua"; ARGS=(/userinfo "" '"sub"' "Bearer $TOKEN") ;;
  login)
    # The same login as bench/harness.mjs: the sample SPA, PKCE S256, auto-approved alice.
    REDIRECT=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback
    VERIFIER=bench-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz
    CHALLENGE=$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | base64 -w0 | tr '+/' '-_' | tr -d '=')
    SCRIPT="$ROOT/bench/wrk/login.lua"
    ARGS=("/authorize?response_type=code&client_id=spa&redirect_uri=$REDIRECT&scope=openid&state=bench&code_challenge=$CHALLENGE&code_challenge_method=S256"
          "grant_type=authorization_code&client_id=spa&redirect_uri=$REDIRECT&code_verifier=$VERIFIER") ;;
  *) echo "PROFILE_WHAT is token, introspect, userinfo or login" >&2; exit 2 ;;
esac

echo "profiling $WHAT at concurrency $C for ${SECS}s (pid $PID, work dir $WORK)"
perf record -F 1999 -g -p "$PID" -o "$WORK/perf.data" -- sleep "$SECS" >/dev/null 2>&1 &
PERF=$!
wrk -t2 -c"$C" -d"${SECS}s" -s "$SCRIPT" -H "Host: localhost:$PORT" "https://127.0.0.1:$PORT" \
  -- "${ARGS[@]}" | grep -E 'Requests/sec|Latency|ok|bad' || true
wait "$PERF" || true

report() { perf report -i "$WORK/perf.data" --no-children --stdio -g none "$@" 2>/dev/null | grep '%' ; }
{
  echo "== by thread"; report --sort comm | head -8
  echo "== by thread and library"; report --sort comm,dso | head -12
  echo "== top functions"; report --sort comm,sym | head -40
} | tee "$WORK/report.txt"
echo "full report: $WORK/report.txt (perf data: $WORK/perf.data)"
