#!/usr/bin/env bash
# tessera vdev add on a served pool: a writer (tests/seeded_writer.py, with a
# model of every block) keeps writing a volume while `vdev add` runs and
# after it, until `pool status --json` shows the volume's rows on the new
# vdev; everything is verified, again after a restart, and the pool checks
# clean. Then an add with no server (the CLI opens the pool), and the
# refusals that change nothing: a taken name, a non-empty file, an unknown
# tier, a size too small; vdev grow with and without a server. The data
# check can fail: a flipped byte is caught.
source "$(dirname "$0")/functions.sh"
require_build
make_tmpdir

new_pool 1 128M
new_volume vol0 48M
seed=${TESSERA_TEST_SEED:-$RANDOM}
log "seed $seed (set TESSERA_TEST_SEED to repeat)"
export T  # tests/seeded_writer.py keeps its model there

start_server "$POOL"
log "a writer runs on vol0 while vdev d1 is added"
"$PYTHON" "$TESSERA_SRC/tests/seeded_writer.py" "$SOCK" vol0 run "$seed" >"$T/writer.log" 2>&1 &
writer=$!
on_exit "kill_started $writer"
sleep 2
kill -0 "$writer" 2>/dev/null || fail "the writer stopped early: $(cat "$T/writer.log")"
out=$(tessera vdev add --pool "$POOL" --vdev tier=fastest,path=d1.img,size=256M,name=d1 2>&1) ||
  fail "vdev add under load failed: $out"
expect_match "vdev add" "added vdev d1: tier fastest, index 1" "$out"
grep -q '^\[vdev d1\]' "$POOL/pool.conf" || fail "pool.conf does not name d1"

log "the writer goes on until rows land on d1"
for ((i = 0; i < 120; i++)); do
  used=$(vdev_used_bytes d1)
  [ "$used" -ge $((8 << 20)) ] && break
  kill -0 "$writer" 2>/dev/null || break
  sleep 0.5
done
touch "$T/stop"
wait "$writer" || fail "the writer found wrong data: $(cat "$T/writer.log")"
log "$(cat "$T/written") blocks of 64K written; d1 holds $used bytes (pool status --json)"
[ "$used" -ge $((8 << 20)) ] || fail "no rows landed on d1 (used $used bytes)"
pool_check

log "after a restart every block reads back"
stop_server
start_server "$POOL"
"$PYTHON" "$TESSERA_SRC/tests/seeded_writer.py" "$SOCK" vol0 verify "$seed" >"$T/verify.log" 2>&1 ||
  fail "data differs after the restart: $(cat "$T/verify.log")"
[ "$(vdev_used_bytes d1)" -ge $((8 << 20)) ] || fail "d1 lost its rows over the restart"
pool_check
stop_server

log "vdev add with no server running, and refusals that change nothing"
out=$(tessera vdev add --pool "$POOL" --vdev tier=slow,path=s0.img,size=64M,host=node1 2>&1) ||
  fail "offline vdev add failed: $out"
expect_match "offline vdev add" "added vdev vdev2: tier slow, index 0" "$out"
conf=$(cat "$POOL/pool.conf")
echo data >"$T/full.img"
for spec in "path=x.img,size=64M,name=d1" "path=$T/full.img,size=64M" "tier=warm,path=x.img,size=64M" \
  "path=x.img,size=1M"; do
  if out=$(tessera vdev add --pool "$POOL" --vdev "$spec" 2>&1); then
    fail "vdev add --vdev $spec was accepted"
  fi
  log "refused $spec: $out"
  [ "$(cat "$POOL/pool.conf")" = "$conf" ] || fail "a refused add ($spec) changed pool.conf"
  [ ! -e "$POOL/x.img" ] || fail "a refused add ($spec) left x.img"
done
[ "$(cat "$T/full.img")" = data ] || fail "a refused add overwrote $T/full.img"
tessera vdev list --pool "$POOL" | grep -q '^vdev2 ' || fail "vdev list does not show vdev2"
pool_check

log "vdev grow: vdev2 with no server, vdev0 while served"
out=$(tessera vdev grow vdev2 --pool "$POOL" --size 96M 2>&1) || fail "offline vdev grow failed: $out"
expect_match "offline vdev grow" "grew vdev vdev2 to 96M" "$out"
expect_fail "vdev grow to a smaller size" tessera vdev grow vdev2 --pool "$POOL" --size 64M
start_server "$POOL"
out=$(tessera vdev grow vdev0 --pool "$POOL" --size 192M 2>&1) || fail "vdev grow under the server failed: $out"
[ "$(stat -c %s "$POOL/vdev0.img")" = $((192 << 20)) ] || fail "vdev0.img was not extended"
"$PYTHON" "$TESSERA_SRC/tests/seeded_writer.py" "$SOCK" vol0 verify "$seed" >"$T/verify.log" 2>&1 ||
  fail "data differs after the grow: $(cat "$T/verify.log")"
pool_check
stop_server

log "the check can fail: a flipped byte in vol0 is caught"
captive "$POOL" "$NBDSH" -u 'nbd+unix:///vol0?socket=@SOCK@' -c '
b = bytearray(h.pread(4096, 0)); b[7] ^= 0xff; h.pwrite(bytes(b), 0); h.flush()' || fail "nbdsh could not flip a byte"
start_server "$POOL"
if "$PYTHON" "$TESSERA_SRC/tests/seeded_writer.py" "$SOCK" vol0 verify "$seed" >/dev/null 2>&1; then
  fail "the verifier passed over a flipped byte"
fi
stop_server
