#!/usr/bin/env bash
# The pool's lease across hosts: two pool directories whose pool.conf names
# the same vdev files stand for two hosts that reach the same disks (with
# TESSERA_HOST_ID telling the second host apart). While a server on the
# first serves, the second host's open is refused, naming the holder, and
# so is another directory on the same host; after kill -9 of the server the
# second host takes the pool over once the lease went unrenewed, serves it,
# and every block fio wrote through the first verifies. A clean stop
# releases the lease: the first host opens at once again.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd fio
make_tmpdir

mkdir -p "$T/vdevs" "$T/b"
POOL=$T/a
tessera pool create --pool "$POOL" --vdev "tier=fastest,path=$T/vdevs/m0.img,size=64M" \
  --vdev "tier=fastest,path=$T/vdevs/m1.img,size=64M" --vdev "tier=slow,path=$T/vdevs/d0.img,size=128M" \
  >"$T/pool-create.out" 2>&1 || fail "pool create failed: $(cat "$T/pool-create.out")"
cp "$POOL/pool.conf" "$T/b/pool.conf"
# host_b COMMAND...: the tessera CLI as the second host.
host_b() { TESSERA_HOST_ID=host-b tessera "$@"; }
chmod 0700 "$T/b"
new_volume vol0 64M

start_server "$POOL"
fio_verify_served vol0 || fail "fio through the first host failed"

log "while the first host serves, the second is refused"
expect_fail "an open from another host" host_b pool status --pool "$T/b"
log "refused: $EXPECT_OUT"
expect_match "another host" "the pool is in use by host .* \\(pid $(cat "$T/server.pid")\\): its lease was renewed while this open watched it" \
  "$EXPECT_OUT"
expect_fail "an open from another directory of this host" tessera pool status --pool "$T/b"
expect_match "this host" "in use by process $(cat "$T/server.pid") on this host" "$EXPECT_OUT"
fio_verify_served vol0 --verify_only=1 || fail "the refused opens disturbed the first host"

log "kill -9 of the first host's server: the second takes over"
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
POOL=$T/b
TESSERA_HOST_ID=host-b start_server "$POOL"
grep -q "taking over the pool's lease from host .*, which did not renew it" "$T/server.log" ||
  fail "the second host's server did not say it took the lease over: $(tail -5 "$T/server.log")"
fio_verify_served vol0 --verify_only=1 || fail "fio verify-only through the second host failed"
stop_server

log "a clean stop releases the lease: the first host opens at once"
TESSERA_HOST_ID=host-a tessera pool check --pool "$T/a" >"$T/check.out" 2>&1 ||
  fail "the first host could not open the released pool: $(cat "$T/check.out")"
