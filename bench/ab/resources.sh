# resources.sh: alternating A/B of authdesk before/after on introspection and userinfo only,
# with the ceiling's token rate beside them; server CPU per request (see README.md).
#   BEFORE, AFTER (binaries; default $W/authdesk-before, $W/authdesk-after1), CS (default 64),
#   REPS (default "1 2 3 4"), AB_WORK (default /tmp/perfwork, prepared by setup.sh)
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
done
CP=$(sed 's/.*://' $W/ceiling.out)
for rep in ${REPS:-1 2 3 4}; do for c in ${CS:-64}; do
  bash $R/bench/ab/cpu.sh $(cat $W/ceiling.pid) fast $c 4 $CP /token "$B" access_token "$AUTH" | sed 's/^/ceiling token /'
  for n in before after; do P=$(cat $W/d-$n/port)
    bash $R/bench/ab/cpu.sh $(cat $W/d-$n/pid) fast $c 4 $P /introspect "token=$(cat $W/d-$n/cc)" active "$AUTH" | sed "s/^/$n introspect /"
    bash $R/bench/ab/cpu.sh $(cat $W/d-$n/pid) fast $c 4 $P /userinfo "" sub "Bearer $(cat $W/d-$n/user)" | sed "s/^/$n userinfo /"
  done
done; done
for n in before after; do kill $(cat $W/d-$n/pid); done
