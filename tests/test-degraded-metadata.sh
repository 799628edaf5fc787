#!/usr/bin/env bash
# The default pool shape (`pool create --vdevs N`: every vdev in the fastest
# tier, which holds the superblocks and every tree node) loses vdev files
# and still opens (docs/architecture.md, Metadata redundancy, guarantees 1-4):
#  (a) a 2-vdev default pool loses either vdev: it opens degraded, lists
#      all of its volumes, and checks clean (the metadata is all there; the
#      simple volumes' data on the lost vdev is not, and is not read);
#  (b) a 6-vdev default pool with an rs:4+2 volume (so the metadata keeps 3
#      copies) loses any two vdev files (all 15 pairs, each on a copy of the
#      pool): the server starts, serves every byte, and pool status shows
#      degraded; for one pair, two vdev replaces (through the running
#      server) and a scrub make it healthy, and it stays so after a restart.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd cmp
make_tmpdir

json_field() { "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

log "(a) 2-vdev default pool"
new_pool 2 1G
new_volume vol 64M
new_volume other 32M
for v in 0 1; do
  mv "$POOL/vdev$v.img" "$T/saved.img"
  status=$(tessera pool status --pool "$POOL" 2>&1) || fail "(a) pool status with vdev$v gone: $status"
  expect_match "(a) pool status without vdev$v" 'health: +degraded' "$status"
  expect_match "(a) pool status without vdev$v" "vdev$v .*missing" "$status"
  list=$(tessera volume list --pool "$POOL" 2>&1) || fail "(a) volume list without vdev$v: $list"
  expect_match "(a) volume list without vdev$v" 'vol ' "$list"
  expect_match "(a) volume list without vdev$v" 'other ' "$list"
  mv "$T/saved.img" "$POOL/vdev$v.img"
done
pool_check

log "(b) 6-vdev default pool with an rs:4+2 volume"
POOL=$T/pool6
tessera pool create --pool "$POOL" --vdevs 6 --size 1G >"$T/pool-create.out" 2>&1 ||
  fail "pool create failed: $(cat "$T/pool-create.out")"
new_volume vol 64M rs:4+2
random_file "$T/data" $((16 << 20))
captive "$POOL" nbdcopy "$T/data" 'nbd+unix:///vol?socket=@SOCK@' || fail "(b) nbdcopy into vol failed"
check_data() {
  rm -f "$T/back"
  nbdcopy "$(nbd_uri vol)" "$T/back" || fail "$1: reading vol failed"
  cmp -s -n $((16 << 20)) "$T/data" "$T/back" || fail "$1: vol's data differs"
}

cp -a --sparse=always "$POOL" "$T/pool6.saved"
# lose A B: the pool as saved, less vdevA and vdevB; the server starts
# degraded and serves the data.
lose() {
  rm -rf "$POOL"
  cp -a --sparse=always "$T/pool6.saved" "$POOL"
  rm "$POOL/vdev$1.img" "$POOL/vdev$2.img"
  start_server "$POOL"
  check_data "(b) vdev$1 and vdev$2 lost"
  status=$(tessera pool status --pool "$POOL")
  expect_match "(b) pool status without vdev$1 and vdev$2" 'health: +degraded' "$status"
  expect_match "(b) pool status without vdev$1 and vdev$2" 'metadata: 3 copies of each tree node' "$status"
  expect_match "(b) pool status without vdev$1 and vdev$2" "vdev$1 .*missing" "$status"
  expect_match "(b) pool status without vdev$1 and vdev$2" "vdev$2 .*missing" "$status"
}
log "(b) every pair of vdevs removed in turn; the server starts degraded"
for a in 0 1 2 3 4 5; do
  for ((b = a + 1; b < 6; b++)); do
    [ "$a$b" = 14 ] && continue  # the pair healed below
    lose "$a" "$b"
    stop_server
  done
done
log "(b) vdev1 and vdev4 removed"
lose 1 4

log "(b) replace both, scrub"
for v in 1 4; do
  tessera vdev replace "vdev$v" "new$v.img" --pool "$POOL" >"$T/replace.out" 2>&1 ||
    fail "(b) replace vdev$v: $(cat "$T/replace.out")"
  log "  vdev$v: $(tr '\n' ' ' <"$T/replace.out")"
done
expect_match "(b) pool status after replace" 'health: +online' "$(tessera pool status --pool "$POOL")"
scrub=$(tessera pool scrub --pool "$POOL" --json 2>/dev/null) || fail "(b) scrub after replace is not clean: $scrub"
[ "$(json_field "d['unrecoverable']" <<<"$scrub")" = 0 ] || fail "(b) scrub found unrecoverable data: $scrub"
check_data "(b) after replace and scrub"
stop_server

log "(b) restart: healthy, data verifies"
start_server "$POOL"
expect_match "(b) pool status after restart" 'health: +online' "$(tessera pool status --pool "$POOL")"
check_data "(b) after restart"
stop_server
pool_check
log "passed"
