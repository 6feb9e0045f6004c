# servers.sh, sourced by endpoints.sh and resources.sh: starts authdesk before (BEFORE,
# default $W/authdesk-before) and after (AFTER, default $W/authdesk-after1) on the sample
# seed, takes a client_credentials token (d-NAME/cc) and alice's token from a PKCE login
# (d-NAME/user) from each, shows one introspection and userinfo answer of each, and sets
# CP and FP to the ports of the ceiling and the floor that setup.sh started.
set -u
W=${AB_WORK:-/tmp/perfwork}; R="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
AUTH="Basic $(printf 'service:service-secret-with-at-least-32-bytes!!' | base64 -w0)"; B='grant_type=client_credentials&scope=api.read%20api.write'
start() { # name bin
  rm -rf $W/d-$1; mkdir -p $W/d-$1
  $2 --data-dir $W/d-$1 ca export --format pem --out $W/d-$1/ca.pem >/dev/null
  $2 --data-dir $W/d-$1 serve --port 0 --seed $R/examples/seed.yaml --auto-approve alice > $W/d-$1/out 2>$W/d-$1/err & echo $! > $W/d-$1/pid
  for i in $(seq 100); do grep -q '^issuer ' $W/d-$1/out 2>/dev/null && break; sleep 0.05; done
  sed -n 's/^issuer https:\/\/localhost://p' $W/d-$1/out > $W/d-$1/port
}
start before "${BEFORE:-$W/authdesk-before}"; start after "${AFTER:-$W/authdesk-after1}"
V=bench-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz; CH=$(printf '%s' $V | openssl dgst -sha256 -binary | base64 -w0 | tr '+/' '-_' | tr -d '=')
RED=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback
for n in before after; do
  P=$(cat $W/d-$n/port); CA=$W/d-$n/ca.pem
  curl -s --cacert $CA -H "Authorization: $AUTH" -d "$B" https://localhost:$P/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/' > $W/d-$n/cc
  LOC=$(curl -s -o /dev/null -w '%{redirect_url}' --cacert $CA "https://localhost:$P/authorize?response_type=code&client_id=spa&redirect_uri=$RED&scope=openid&state=s&code_challenge=$CH&code_challenge_method=S256")
  CODE=$(echo $LOC | sed 's/.*code=\([^&]*\).*/\1/')
  curl -s --cacert $CA -d "grant_type=authorization_code&client_id=spa&redirect_uri=$RED&code_verifier=$V&code=$CODE" https://localhost:$P/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/' > $W/d-$n/user
  echo "$n introspect: $(curl -s --cacert $CA -H "Authorization: $AUTH" -d "token=$(cat $W/d-$n/cc)" https://localhost:$P/introspect | cut -c1-60) userinfo: $(curl -s --cacert $CA -H "Authorization: Bearer $(cat $W/d-$n/user)" https://localhost:$P/userinfo | cut -c1-60)"
done
CP=$(sed 's/.*://' $W/ceiling.out); FP=$(sed 's/.*://' $W/floor.out)
