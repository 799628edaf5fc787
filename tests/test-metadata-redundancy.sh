#!/usr/bin/env bash
# Metadata redundancy end to end: every tree node has two copies, on two
# vdevs (meta0 in the fastest tier holds the first copies, meta1 in the fast
# tier the second ones; the volume's data is on a third vdev). Wiping one
# metadata vdev loses nothing: the pool opens, `pool check` is clean and the
# data reads back. Reading through the bad copies repairs them: after the
# check, wiping the *other* metadata vdev loses nothing either.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd dd cmp
make_tmpdir

POOL=$T/pool
tessera pool create --pool "$POOL" \
  --vdev tier=fastest,path=meta0.img,size=64M,name=meta0 \
  --vdev tier=fast,path=meta1.img,size=64M,name=meta1 \
  --vdev tier=slow,path=data.img,size=256M,name=data >"$T/create.out" 2>&1 ||
  fail "pool create failed: $(cat "$T/create.out")"
new_volume vol0 64M
BLOCKS=$(((64 << 20) / 4096))

random_file "$T/data" $((8 << 20))
captive "$POOL" nbdcopy "$T/data" 'nbd+unix:///vol0?socket=@SOCK@' || fail "nbdcopy into vol0 failed"
check_data() {
  captive "$POOL" nbdcopy 'nbd+unix:///vol0?socket=@SOCK@' "$T/data.back" ||
    fail "$1: reading vol0 failed"
  cmp -s -n $((8 << 20)) "$T/data" "$T/data.back" || fail "$1: vol0's data changed"
  rm -f "$T/data.back"
}

# wipe FILE: random bytes over everything but the two label blocks
# (superblock slots and every node copy on it).
wipe() {
  dd if=/dev/urandom of="$POOL/$1" bs=4096 seek=1 count=$((BLOCKS - 2)) conv=notrunc status=none ||
    fail "wiping $1 failed"
}

log "meta0 (every first copy, a superblock copy) is wiped"
wipe meta0.img
out=$(tessera pool check --pool "$POOL" 2>&1) || fail "pool check with meta0 wiped: $out"
log "  $(echo "$out" | head -n 1)"
check_data "meta0 wiped"

# A change commits a new superblock to both vdevs (meta0's slots are still
# random); then the second copies go.
new_volume vol1 16M
log "meta1 (every second copy, the other superblock copy) is wiped after the repair"
wipe meta1.img
out=$(tessera pool check --pool "$POOL" 2>&1) || fail "pool check with meta1 wiped after the repair: $out"
log "  $(echo "$out" | head -n 1)"
check_data "meta1 wiped after meta0 was repaired"
tessera volume list --pool "$POOL" | grep -q vol1 || fail "vol1 is gone"
