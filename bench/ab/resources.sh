# resources.sh: alternating A/B of authdesk before/after on introspection and userinfo only,
# with the ceiling's token rate beside them; server CPU per request (see README.md).
#   BEFORE, AFTER (binaries; default $W/authdesk-before, $W/authdesk-after1), CS (default 64),
#   REPS (default "1 2 3 4"), AB_WORK (default /tmp/perfwork, prepared by setup.sh)
set -u
. "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
for rep in ${REPS:-1 2 3 4}; do for c in ${CS:-64}; do
  bash $R/bench/ab/cpu.sh $(cat $W/ceiling.pid) fast $c 4 $CP /token "$B" access_token "$AUTH" | sed 's/^/ceiling token /'
  for n in before after; do P=$(cat $W/d-$n/port)
    bash $R/bench/ab/cpu.sh $(cat $W/d-$n/pid) fast $c 4 $P /introspect "token=$(cat $W/d-$n/cc)" active "$AUTH" | sed "s/^/$n introspect /"
    bash $R/bench/ab/cpu.sh $(cat $W/d-$n/pid) fast $c 4 $P /userinfo "" sub "Bearer $(cat $W/d-$n/user)" | sed "s/^/$n userinfo /"
  done
done; done
for n in before after; do kill $(cat $W/d-$n/pid); done
