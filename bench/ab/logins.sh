# logins.sh: logins at c16 on the floor, authdesk (RS256 id_tokens) and authdesk with ES256 id_tokens (see README.md)
set -u
W=${AB_WORK:-/tmp/perfwork}; R="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"; BIN=${BIN:-$W/authdesk-after1}
V=bench-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz; CH=$(printf '%s' $V | openssl dgst -sha256 -binary | base64 -w0 | tr '+/' '-_' | tr -d '=')
RED=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback
AP="/authorize?response_type=code&client_id=spa&redirect_uri=$RED&scope=openid&state=bench&code_challenge=$CH&code_challenge_method=S256"
TP="grant_type=authorization_code&client_id=spa&redirect_uri=$RED&code_verifier=$V"
for n in rs es; do
  rm -rf $W/l-$n; mkdir -p $W/l-$n
  $BIN --data-dir $W/l-$n import $R/examples/seed.yaml >/dev/null
  [ $n = es ] && $BIN --data-dir $W/l-$n clients update spa --id-token-alg ES256 >/dev/null
  $BIN --data-dir $W/l-$n serve --port 0 --auto-approve alice > $W/l-$n/out 2>/dev/null & echo $! > $W/l-$n/pid
  for i in $(seq 100); do grep -q '^issuer ' $W/l-$n/out 2>/dev/null && break; sleep 0.05; done
  sed -n 's/^issuer https:\/\/localhost://p' $W/l-$n/out > $W/l-$n/port
done
sleep 2
FP=$(sed 's/.*://' $W/floor.out)
for rep in 1 2; do for c in 16; do
  bash $R/bench/ab/cpu.sh $(cat $W/floor.pid) login $c 4 $FP "$AP" "$TP" | sed 's/^/floor /'
  for n in rs es; do bash $R/bench/ab/cpu.sh $(cat $W/l-$n/pid) login $c 4 $(cat $W/l-$n/port) "$AP" "$TP" | sed "s/^/authdesk-$n /"; done
done; done
for n in rs es; do kill $(cat $W/l-$n/pid); done
