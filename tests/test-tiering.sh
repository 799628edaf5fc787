#!/usr/bin/env bash
# Automatic tiering on a served pool (tiering = on, the heat halving every
# second, a 16M cache budget so reads reach the vdevs): volhot lives on the
# slow tier and fio keeps reading its first 32M, which rises above it;
# volcold lives on the fastest tier and, held open by an idle client, is
# left alone once written and sinks below it. `volume info --json` shows
# both while fio verifies; `pool status` counts the moves; after a restart
# every block still verifies and the pool checks clean. A bad tiering line
# in pool.conf is refused naming it. The fio check can fail: a flipped byte
# is caught.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd fio
make_tmpdir

POOL=$T/pool
tessera pool create --pool "$POOL" --vdev tier=fastest,path=meta0.img,size=256M,name=meta0 \
  --vdev tier=fast,path=f0.img,size=256M,name=f0 \
  --vdev tier=slow,path=s0.img,size=256M,name=s0 --vdev tier=slow,path=s1.img,size=256M,name=s1 \
  >"$T/pool-create.out" 2>&1 || fail "pool create failed: $(cat "$T/pool-create.out")"
tessera volume create volhot --pool "$POOL" --size 64M --tier slow >/dev/null || fail "volume create volhot failed"
tessera volume create volcold --pool "$POOL" --size 32M --tier fastest >/dev/null ||
  fail "volume create volcold failed"
sed -i 's/^name = default$/name = default\nmemory = 16M\ntiering = on\ntiering-half-life = 1s/' "$POOL/pool.conf"
grep -q '^tiering = on$' "$POOL/pool.conf" || fail "could not turn tiering on in pool.conf"

# tier_bytes VOLUME TIER: the bytes of its rows on TIER (volume info --json).
tier_bytes() {
  tessera volume info "$1" --pool "$POOL" --json | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)["tier_bytes"].get(sys.argv[1], 0))' "$2"
}

# verify_hot [EXTRA-FIO-ARGS...]: volhot, four jobs over 16M each.
verify_hot() { fio_verify_served volhot "$@"; }
# verify_cold [EXTRA-FIO-ARGS...]: volcold, two jobs over 16M each.
verify_cold() { fio_verify_served volcold --numjobs=2 "$@"; }

start_server "$POOL"
log "write both volumes"
verify_hot || fail "the first fio pass over volhot failed"
verify_cold || fail "the first fio pass over volcold failed"
[ "$(tier_bytes volhot fast)" = 0 ] || fail "volhot has rows on the fast tier before any reads"

# Tiering looks only at volumes some client has open (volhot's readers come
# and go): a client holds volcold open, idle.
"$NBDSH" -u "$(nbd_uri volcold)" -c 'import time; time.sleep(300)' &
holder=$!
on_exit "kill_started $holder"
log "read volhot's first 32M over and over until rows move"
(
  for ((pass = 0; pass < 400; pass++)); do
    [ ! -e "$T/moved" ] || exit 0
    verify_hot --verify_only=1 --numjobs=2 || exit 1
  done
) &
reader=$!
on_exit "kill_started $reader"
hot=0 cold=0
for ((i = 0; i < 120; i++)); do
  hot=$(($(tier_bytes volhot fast) + $(tier_bytes volhot fastest)))  # a hot row rises on to fastest
  cold=$(($(tier_bytes volcold fast) + $(tier_bytes volcold slow)))  # a cold row sinks on past fast
  ((hot > 0 && cold > 0)) && break
  kill -0 "$reader" 2>/dev/null || break
  sleep 1
done
touch "$T/moved"
wait "$reader" || fail "fio found wrong data in volhot while its rows moved"
log "volhot: $hot bytes of rows rose above the slow tier; volcold: $cold bytes sank below the fastest"
((hot > 0)) || fail "no row of volhot rose within 120 s: $(tessera volume info volhot --pool "$POOL")"
((cold > 0)) || fail "no row of volcold sank within 120 s: $(tessera volume info volcold --pool "$POOL")"
status=$(tessera pool status --pool "$POOL")
expect_match "pool status" "^tiering:  on, up to 90% of a faster tier, heat halves every 1s; rows moved: [1-9][0-9]* up .*, [1-9][0-9]* down" "$status"
grep '^tiering:' <<<"$status"
sed -n '/^data rows by tier/,/^$/p' <<<"$status"
expect_match "pool status placement" "^volhot +slow +fast(est)? [0-9.]+[KMG].*slow " "$status"
tessera pool status --pool "$POOL" --json | "$PYTHON" -c '
import json, sys
t = json.load(sys.stdin)["tiering"]
assert t["enabled"] and t["promoted_rows"] > 0 and t["demoted_rows"] > 0, t' ||
  fail "pool status --json does not count the moves"
verify_hot --verify_only=1 || fail "fio verify-only of volhot after the moves failed"
verify_cold --verify_only=1 || fail "fio verify-only of volcold after the moves failed"
grep -q "tiering: volume 'volhot': row at .* moved from tier slow to tier fast" "$T/server.log" ||
  fail "the server log does not say which row rose"

log "after a restart every block verifies"
kill_started "$holder"
stop_server
start_server "$POOL"
verify_hot --verify_only=1 || fail "fio verify-only of volhot after the restart failed"
verify_cold --verify_only=1 || fail "fio verify-only of volcold after the restart failed"
stop_server
pool_check

log "a bad tiering line is refused, naming it"
cp "$POOL/pool.conf" "$T/pool.conf.good"
sed -i 's/^tiering = on$/tiering = maybe/' "$POOL/pool.conf"
expect_fail "tiering = maybe" tessera pool status --pool "$POOL"
expect_match "tiering = maybe" "line 4: tiering = maybe: expected on or off" "$EXPECT_OUT"
cp "$T/pool.conf.good" "$POOL/pool.conf"
tessera pool status --pool "$POOL" >/dev/null || fail "pool status fails with the good pool.conf back"

log "a corrupted block is caught by the verify-only pass"
start_server "$POOL"
expect_flip_caught "$(nbd_uri volhot)" verify_hot --verify_only=1
stop_server
log "passed"
