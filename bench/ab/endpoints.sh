# endpoints.sh: alternating A/B of authdesk before/after against the ceiling and the floor, CPU per request (see README.md)
. "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
for rep in ${REPS:-1 2}; do for c in ${CS:-16 64}; do
  bash $R/bench/ab/cpu.sh $(cat $W/ceiling.pid) fast $c 4 $CP /token "$B" access_token "$AUTH" | sed 's/^/ceiling token /'
  bash $R/bench/ab/cpu.sh $(cat $W/floor.pid) fast $c 4 $FP /token "$B" access_token "$AUTH" | sed 's/^/floor token /'
  for n in before after; do P=$(cat $W/d-$n/port)
    bash $R/bench/ab/cpu.sh $(cat $W/d-$n/pid) fast $c 4 $P /token "$B" access_token "$AUTH" | sed "s/^/$n token /"
    bash $R/bench/ab/cpu.sh $(cat $W/d-$n/pid) fast $c 4 $P /introspect "token=$(cat $W/d-$n/cc)" active "$AUTH" | sed "s/^/$n introspect /"
    bash $R/bench/ab/cpu.sh $(cat $W/d-$n/pid) fast $c 4 $P /userinfo "" sub "Bearer $(cat $W/d-$n/user)" | sed "s/^/$n userinfo /"
  done
done; done
for n in before after; do kill $(cat $W/d-$n/pid); done
