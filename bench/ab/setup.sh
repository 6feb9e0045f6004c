# setup.sh: the work directory the A/B scripts read (see README.md): a throwaway P-256 CA and
# server certificate, and the ceiling and the floor started on them. Stop them with
# `bash bench/ab/setup.sh stop`.
#   AB_WORK (default /tmp/perfwork), CARGO_TARGET_DIR (default ~/.cache/authdesk/target-bench)
set -eu
R="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
W=${AB_WORK:-/tmp/perfwork}
T=${CARGO_TARGET_DIR:-$HOME/.cache/authdesk/target-bench}
if [ "${1:-}" = stop ]; then
  for s in ceiling floor; do [ -f "$W/$s.pid" ] && kill "$(cat "$W/$s.pid")" 2>/dev/null; rm -f "$W/$s.pid"; done
  exit 0
fi
mkdir -p "$W/pki"
CARGO_TARGET_DIR=$T cargo build --release --quiet --manifest-path "$R/bench/ceiling/Cargo.toml"
cp "$T/release/ceiling" "$T/release/floor" "$W/"
cd "$W/pki"
if [ ! -f server.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca-key.pem -out ca.pem \
    -days 2 -subj '/CN=Authdesk bench throwaway CA' 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server-key.pem -out server.csr \
    -subj /CN=localhost 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >ext.cnf
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server.pem -days 2 \
    -extfile ext.cnf 2>/dev/null
fi
cd "$W"
bash "$R/bench/ab/setup.sh" stop
rm -f floor.db floor.db-wal floor.db-shm
./ceiling --port 0 --cert pki/server.pem --key pki/server-key.pem >ceiling.out & echo $! >ceiling.pid
./floor --port 0 --cert pki/server.pem --key pki/server-key.pem --db floor.db >floor.out & echo $! >floor.pid
for _ in $(seq 100); do [ -s ceiling.out ] && [ -s floor.out ] && break; sleep 0.05; done
echo "ceiling $(cat ceiling.out), floor $(cat floor.out) (work directory $W)"
