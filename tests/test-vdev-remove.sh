#!/usr/bin/env bash
# tessera vdev remove on a served pool: fio (nbd engine, 4 connections,
# verify=crc32c) writes and verifies a simple volume and an rs:2+1 one
# while vdev d1 leaves the pool; afterwards `vdev list` shows d1 removed,
# pool.conf says `state = removed`, no volume's exNode names d1, the pool
# checks clean, and after a restart without d1's file every block
# verifies. Then the refusals that change nothing, and a remove with no
# server. The fio check can fail: a flipped byte is caught.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd fio
make_tmpdir

POOL=$T/pool
tessera pool create --pool "$POOL" --vdev tier=fastest,path=d0.img,size=256M,name=d0 \
  --vdev tier=fastest,path=d1.img,size=256M,name=d1 --vdev tier=fastest,path=d2.img,size=256M,name=d2 \
  --vdev tier=fastest,path=d3.img,size=256M,name=d3 \
  >"$T/pool-create.out" 2>&1 || fail "pool create failed: $(cat "$T/pool-create.out")"
new_volume vol0 64M
new_volume vol1 64M rs:2+1

# vdev_state VDEV: its state in `vdev list --json`.
vdev_state() {
  tessera vdev list --pool "$POOL" --json | "$PYTHON" -c '
import json, sys
print([v["state"] for v in json.load(sys.stdin) if v["name"] == sys.argv[1]][0])' "$1"
}

# blocks_on VOLUME VDEV: how many of the volume's data blocks its exNode
# places on the vdev.
blocks_on() {
  tessera exnode show "$1" --pool "$POOL" | grep -c "^vdev=$2\$" || true
}

# fio_verify VOLUME [EXTRA-FIO-ARGS...]: 4 jobs, each over its own 12 MiB.
fio_verify() {
  local volume=$1
  shift
  fio_verify_served "$volume" --size=12M "$@"
}

start_server "$POOL"
log "fill both volumes"
fio_verify vol0 || fail "the first fio pass on vol0 failed"
fio_verify vol1 || fail "the first fio pass on vol1 failed"
(($(blocks_on vol0 d1) + $(blocks_on vol1 d1) > 0)) || fail "no volume has data on d1: the test proves nothing"

log "remove d1 while fio writes and verifies both volumes"
verify_both() { fio_verify vol0 && fio_verify vol1; }
churn_until "$T/removed" verify_both
sleep 1
tessera vdev remove d1 --pool "$POOL" >"$T/remove.out" 2>"$T/remove.err" ||
  fail "vdev remove failed: $(cat "$T/remove.err")"
touch "$T/removed"
wait "$CHURN_PID" || fail "fio found wrong data during the remove"
cat "$T/remove.out"
log "$(cat "$T/fio-passes") fio passes of write and verify ran over the remove"
expect_match "remove" "^removed vdev d1: .* of live data and [0-9]+ tree nodes moved" "$(cat "$T/remove.out")"
grep -q "^removing vdev d1: " "$T/remove.out" || fail "the remove printed no progress"
[ "$(vdev_state d1)" = removed ] || fail "vdev list does not show d1 removed: $(vdev_state d1)"
grep -A6 '^\[vdev d1\]' "$POOL/pool.conf" | grep -q '^state = removed$' || fail "pool.conf does not say d1 is removed"
if [ "$(blocks_on vol0 d1)" != 0 ] || [ "$(blocks_on vol1 d1)" != 0 ]; then fail "an exNode still names d1"; fi
pool_check

log "after a restart without d1's file every block verifies"
stop_server
rm -f "$POOL/d1.img"
start_server "$POOL"
fio_verify vol0 --verify_only=1 || fail "fio verify-only of vol0 after the restart failed"
fio_verify vol1 --verify_only=1 || fail "fio verify-only of vol1 after the restart failed"
health=$(tessera pool status --pool "$POOL" --json | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["health"])')
[ "$health" = online ] || fail "pool status says $health without the removed vdev's file"
stop_server
pool_check

log "refusals change nothing"
tessera snapshot create vol0@s --pool "$POOL" >/dev/null || fail "snapshot create failed"
target=d0
(($(blocks_on vol0 d0) > 0)) || target=d2
expect_fail "remove under a snapshot" tessera vdev remove "$target" --pool "$POOL"
[ "$EXPECT_STATUS" = 2 ] || fail "remove under a snapshot: exit $EXPECT_STATUS, expected 2: $EXPECT_OUT"
expect_match "snapshot" "snapshot 'vol0@s' names data on vdev '$target'" "$EXPECT_OUT"
tessera snapshot delete vol0@s --pool "$POOL" >/dev/null || fail "snapshot delete failed"
expect_fail "a row wider than what would remain" tessera vdev remove d2 --pool "$POOL"
expect_match "rs:2+1 over three vdevs" "spans 3 vdevs" "$EXPECT_OUT"
expect_fail "an unknown vdev" tessera vdev remove nope --pool "$POOL"
[ "$EXPECT_STATUS" = 3 ] || fail "remove of an unknown vdev: exit $EXPECT_STATUS, expected 3"
for v in d0 d2 d3; do
  [ "$(vdev_state "$v")" = online ] || fail "a refused remove left $v $(vdev_state "$v")"
done

log "removing again with no server is done at once"
out=$(tessera vdev remove d1 --pool "$POOL" --json) || fail "a second remove of d1 failed"
"$PYTHON" -c 'import json, sys; j = json.loads(sys.argv[1]); assert j["done"] and j["phase"] == "removed", j' "$out" ||
  fail "a second remove of d1 is not done: $out"
pool_check

log "a corrupted block is caught by the verify-only pass"
start_server "$POOL"
expect_flip_caught "$(nbd_uri vol0)" fio_verify vol0 --verify_only=1
stop_server
