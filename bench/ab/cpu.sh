# cpu.sh PID SCRIPT C SECS ARGS... : wrk run; prints req/s, server CPU µs per request, wrk CPU µs per request
pid=$1; script=$2; c=$3; secs=$4; port=$5; shift 5
tick=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
a=$(cpu $pid)
out=$( { /usr/bin/time -f "WRKCPU %U %S" wrk -t2 -c$c -d${secs}s -s "$(dirname "${BASH_SOURCE[0]}")/../wrk/$script.lua" -H "Host: localhost:$port" https://127.0.0.1:$port -- "$@"; } 2>&1 )
b=$(cpu $pid)
req=$(echo "$out" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p'); dur=$(echo "$out" | sed -n 's/.*"duration_s":\([0-9.]*\).*/\1/p')
ok=$(echo "$out" | sed -n 's/.*"ok":\([0-9]*\).*/\1/p'); bad=$(echo "$out" | sed -n 's/.*"bad":\([0-9]*\).*/\1/p')
w=$(echo "$out" | awk '/WRKCPU/{print $2+$3}')
echo "$script c$c $(awk -v r=$ok -v d=$dur 'BEGIN{printf "%.0f req/s", r/d}') ok=$ok bad=$bad server_cpu_us/req=$(awk -v a=$a -v b=$b -v t=$tick -v r=$req 'BEGIN{printf "%.1f", (b-a)/t*1e6/r}') wrk_cpu_us/req=$(awk -v w=$w -v r=$req 'BEGIN{printf "%.1f", w*1e6/r}') $(cut -d' ' -f1-3 /proc/loadavg)"
