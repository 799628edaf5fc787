#!/usr/bin/env bash
# tessera volume move on a served volume: fio (nbd engine, 4 connections,
# verify=crc32c) writes and verifies vol0 while it moves from the slow tier
# to the fastest; afterwards `volume info --json` shows every row on the
# fastest tier, a verify-only pass after a restart finds every block, and
# the pool checks clean. Then the move back with no server (the CLI opens
# the pool), a snapshot's rows held on their tier, and the refusals that
# change nothing. The fio check can fail: a flipped byte is caught.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd fio
make_tmpdir

POOL=$T/pool
tessera pool create --pool "$POOL" --vdev tier=fastest,path=meta0.img,size=256M,name=meta0 \
  --vdev tier=slow,path=s0.img,size=256M,name=s0 --vdev tier=slow,path=s1.img,size=256M,name=s1 \
  >"$T/pool-create.out" 2>&1 || fail "pool create failed: $(cat "$T/pool-create.out")"
new_volume vol0 64M

# tier_bytes VOLUME: its rows per tier, as "tier=bytes ..." (volume info --json).
tier_bytes() {
  tessera volume info "$1" --pool "$POOL" --json | "$PYTHON" -c '
import json, sys
print(" ".join("%s=%d" % kv for kv in sorted(json.load(sys.stdin)["tier_bytes"].items())))'
}

# fio_verify [EXTRA-FIO-ARGS...]: 4 jobs, each over its own 16 MiB of vol0.
fio_verify() { fio_verify_served vol0 "$@"; }

start_server "$POOL"
log "fill vol0 (slow tier)"
fio_verify || fail "the first fio pass failed"
before=$(tier_bytes vol0)
[[ "$before" == "slow="* && "$before" != *fastest* ]] || fail "vol0's rows are not all on the slow tier: $before"

log "move vol0 to the fastest tier while fio writes and verifies it"
churn_until "$T/moved" fio_verify
sleep 1
tessera volume move vol0 --tier fastest --pool "$POOL" >"$T/move.out" 2>"$T/move.err" ||
  fail "volume move failed: $(cat "$T/move.err")"
touch "$T/moved"
wait "$CHURN_PID" || fail "fio found wrong data during the move"
cat "$T/move.out"
log "$(cat "$T/fio-passes") fio passes of write and verify ran over the move"
expect_match "move" "^moved volume vol0 to tier fastest: .* of live data rewritten" "$(cat "$T/move.out")"
grep -q "^moving vol0 to tier fastest: " "$T/move.out" || fail "the move printed no progress"
after=$(tier_bytes vol0)
[[ "$after" =~ ^fastest=[0-9]+$ ]] || fail "vol0's rows are not all on the fastest tier after the move: $after"
tessera volume info vol0 --pool "$POOL" | grep -Eq '^tier: +fastest' || fail "volume info does not say tier fastest"
pool_check

log "after a restart every block verifies"
stop_server
start_server "$POOL"
fio_verify --verify_only=1 || fail "fio verify-only after the restart failed"
pool_check
stop_server

log "move back with no server, keeping a snapshot's rows where they are"
tessera snapshot create vol0@s --pool "$POOL" >/dev/null || fail "snapshot create failed"
out=$(tessera volume move vol0 --tier slow --pool "$POOL" --json 2>/dev/null) || fail "offline move failed"
held=$("$PYTHON" -c 'import json, sys; j = json.loads(sys.argv[1]); print(j["held_bytes"], j["tier"])' "$out")
[[ "$held" =~ ^[1-9][0-9]*\ slow$ ]] || fail "the move back did not report held rows and tier slow: $out"
now=$(tier_bytes vol0)
[[ "$now" == fastest=*" "slow=* ]] || fail "vol0@s's rows should stay on fastest while vol0 moved: $now"
start_server "$POOL"
fio_verify --verify_only=1 || fail "fio verify-only after the move back failed"
stop_server
tessera snapshot delete vol0@s --pool "$POOL" >/dev/null || fail "snapshot delete failed"
tessera volume move vol0 --tier slow --pool "$POOL" >/dev/null 2>&1 || fail "the move after the delete failed"
now=$(tier_bytes vol0)
[[ "$now" =~ ^slow=[0-9]+$ ]] || fail "rows left off the slow tier once the snapshot was gone: $now"
pool_check

log "refusals change nothing"
tessera snapshot create vol0@t --pool "$POOL" >/dev/null || fail "snapshot create failed"
conf=$(tessera volume info vol0 --pool "$POOL" --json)
expect_fail "move a snapshot" tessera volume move vol0@t --tier fastest --pool "$POOL"
[ "$EXPECT_STATUS" = 2 ] || fail "move of a snapshot: exit $EXPECT_STATUS, expected 2: $EXPECT_OUT"
expect_fail "move to a tier without vdevs" tessera volume move vol0 --tier slowest --pool "$POOL"
[ "$EXPECT_STATUS" = 2 ] || fail "move to slowest: exit $EXPECT_STATUS, expected 2: $EXPECT_OUT"
expect_match "empty tier" "needs 1 online vdevs in tier slowest" "$EXPECT_OUT"
expect_fail "move an unknown volume" tessera volume move nope --tier fastest --pool "$POOL"
[ "$EXPECT_STATUS" = 3 ] || fail "move of an unknown volume: exit $EXPECT_STATUS, expected 3"
expect_fail "an unknown tier" tessera volume move vol0 --tier warm --pool "$POOL"
[ "$(tessera volume info vol0 --pool "$POOL" --json)" = "$conf" ] || fail "a refused move changed vol0"
pool_check

log "a corrupted block is caught by the verify-only pass"
start_server "$POOL"
expect_flip_caught "$(nbd_uri vol0)" fio_verify --verify_only=1
stop_server
