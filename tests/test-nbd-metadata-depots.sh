#!/usr/bin/env bash
# A pool with no local vdev at all: its metadata tier is 3 NBD depots and its
# data tier 3 more (kind nbd, `nbdkit file` on Unix sockets, one "host"
# each), so that pool.conf alone opens it from anywhere the depots reach:
#  (a) pool create over the 6 depots (d2 over TLS: nbds+unix with a PSK,
#      its nbdkit refusing clear text); an rs:2+1 volume spread over hosts,
#      whose exNode names each block's depot (its URI) in the block's
#      capability; fio writes and verifies it through the server;
#  (b) a second pool directory holding only a copy of pool.conf (another
#      machine's view) opens the pool and verifies every block;
#  (c) one metadata depot is gone: the pool still opens from the copy (the
#      tree's copies are on the other metadata depots), says the vdev is
#      missing, and every block verifies.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd fio nbdkit psktool
make_tmpdir

DEPOT_PIDS=()
# start_depot NAME [NBDKIT-OPTIONS...]
start_depot() {
  local i=$1
  shift
  [ -e "$T/$i.img" ] || truncate -s 64M "$T/$i.img"
  rm -f "$T/$i.sock" "$T/$i.pid"
  nbdkit -f --exit-with-parent -U "$T/$i.sock" -P "$T/$i.pid" "$@" file "$T/$i.img" >>"$T/depot-$i.log" 2>&1 &
  DEPOT_PIDS+=($!)
  on_exit "kill_started $!"
  wait_for_pidfile "$T/$i.pid" "depot $i"
}
json_field() { "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

for d in m0 m1 m2 d0 d1; do start_depot "$d"; done
# Outside $T, whose long name would push the uri past pool.conf's 199-byte lines.
PSK=$(mktemp /tmp/tessera-psk.XXXXXX)
on_exit "rm -f '$PSK'"
rm -f "$PSK"
psktool -u alice -p "$PSK" >/dev/null
start_depot d2 --tls=require --tls-psk="$PSK"
depot_uri() {
  if [ "$1" = d2 ]; then
    echo "nbds+unix://alice@/?socket=$T/d2.sock&tls-psk-file=$PSK"
  else
    echo "nbd+unix:///?socket=$T/$1.sock"
  fi
}

log "(a) pool create over 6 depots, metadata on 3 of them"
POOL=$T/pool
vdev_args=()
for i in 0 1 2; do
  vdev_args+=(--vdev "kind=nbd,uri=$(depot_uri "m$i"),tier=fastest,host=h$i,name=m$i,timeout=2")
  vdev_args+=(--vdev "kind=nbd,uri=$(depot_uri "d$i"),tier=slow,host=h$i,name=d$i,timeout=2")
done
tessera pool create --pool "$POOL" "${vdev_args[@]}" >"$T/pool-create.out" 2>&1 ||
  fail "pool create failed: $(cat "$T/pool-create.out")"
tessera volume create vol --pool "$POOL" --size 64M --layout rs:2+1 --tier slow --spread host \
  >"$T/volume-create.out" 2>&1 || fail "volume create failed: $(cat "$T/volume-create.out")"
start_server "$POOL"
fio_verify_served vol --size=8M || fail "(a) fio verify failed"
stop_server
tessera exnode show vol --pool "$POOL" >"$T/exnode.txt" || fail "(a) exnode show failed"
for d in d0 d1 d2; do
  grep -qF "read_cap=$(depot_uri $d)#slow:" "$T/exnode.txt" ||
    fail "(a) no block of the exNode names depot $d: $(grep -m 3 read_cap "$T/exnode.txt")"
done
ls "$POOL"/*.img >/dev/null 2>&1 && fail "(a) the pool directory holds a vdev file"

log "(b) another pool directory with only pool.conf opens it"
OTHER=$T/elsewhere
mkdir -m 700 "$OTHER"
cp "$POOL/pool.conf" "$OTHER/pool.conf"
POOL=$OTHER
pool_check
start_server "$POOL"
fio_verify_served vol --size=8M --verify_only=1 || fail "(b) verify from the copy failed"
stop_server

log "(c) metadata depot m1 gone: the pool opens from the others"
kill -KILL "${DEPOT_PIDS[1]}"
wait "${DEPOT_PIDS[1]}" 2>/dev/null || true
state=$(tessera vdev list --pool "$POOL" --json | json_field "[v['state'] for v in d if v['name'] == 'm1'][0]") ||
  fail "(c) vdev list failed with m1 gone"
[ "$state" = missing ] || fail "(c) m1 is '$state', expected missing"
start_server "$POOL"
fio_verify_served vol --size=8M --verify_only=1 || fail "(c) verify with m1 gone failed"
stop_server
