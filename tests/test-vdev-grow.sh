#!/usr/bin/env bash
# tessera vdev grow on a served pool: fio (nbd engine, 4 connections,
# verify=crc32c) keeps writing and verifying vol0 while the pool's only
# vdev grows from 128M to 320M; then vol1, which does not fit in 128M next
# to vol0, is created and filled while served, and `pool status --json`
# shows the vdev using more than its old size. After a restart both volumes
# verify, the vdev opens at its new size and the pool checks clean. Refused,
# changing nothing: a smaller size, an unknown vdev. The fio check can fail:
# a flipped byte is caught.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd fio
make_tmpdir

new_pool 1 128M
new_volume vol0 64M

# verify_vol1 [EXTRA-FIO-ARGS...]: vol1, four jobs over 24M each.
verify_vol1() { fio_verify_served vol1 --size=24M --offset_increment=24M "$@"; }

start_server "$POOL"
log "fill vol0"
fio_verify_served vol0 || fail "the first fio pass over vol0 failed"

log "grow vdev0 to 320M while fio writes and verifies vol0"
churn_until "$T/grown" fio_verify_served vol0
sleep 1
out=$(tessera vdev grow vdev0 --size 320M --pool "$POOL" 2>&1) || fail "vdev grow failed: $out"
touch "$T/grown"
wait "$CHURN_PID" || fail "fio found wrong data in vol0 during the grow"
log "$out ($(cat "$T/fio-passes") fio passes over the grow)"
expect_match "vdev grow" "^grew vdev vdev0 to 320M$" "$out"
[ "$(stat -c %s "$POOL/vdev0.img")" = $((320 << 20)) ] || fail "vdev0.img was not extended to 320M"

log "vol1 (96M) needs the new space"
tessera volume create vol1 --pool "$POOL" --size 96M >/dev/null || fail "volume create vol1 failed"
verify_vol1 || fail "fio over vol1 failed"
used=$(vdev_used_bytes vdev0)
log "vdev0 uses $used bytes"
((used > 128 << 20)) || fail "vdev0 uses $used bytes, no more than its old 128M"
pool_check

log "refusals change nothing"
conf=$(cat "$POOL/pool.conf")
expect_fail "a smaller size" tessera vdev grow vdev0 --size 256M --pool "$POOL"
expect_match "smaller size" "vdev 'vdev0' has 320M; give a larger size" "$EXPECT_OUT"
expect_fail "an unknown vdev" tessera vdev grow nope --size 1G --pool "$POOL"
expect_match "unknown vdev" "no vdev 'nope'" "$EXPECT_OUT"
[ "$(cat "$POOL/pool.conf")" = "$conf" ] || fail "a refused grow changed pool.conf"

log "after a restart both volumes verify at the new size"
stop_server
start_server "$POOL"
fio_verify_served vol0 --verify_only=1 || fail "fio verify-only of vol0 after the restart failed"
verify_vol1 --verify_only=1 || fail "fio verify-only of vol1 after the restart failed"
[ "$(tessera vdev list --pool "$POOL" --json | "$PYTHON" -c '
import json, sys
print(next(v["size_bytes"] for v in json.load(sys.stdin) if v["name"] == "vdev0"))')" = $((320 << 20)) ] ||
  fail "vdev0 is not 320M after the restart"
stop_server
pool_check

log "a corrupted block is caught by the verify-only pass"
start_server "$POOL"
expect_flip_caught "$(nbd_uri vol1)" verify_vol1 --verify_only=1
stop_server
log "passed"
