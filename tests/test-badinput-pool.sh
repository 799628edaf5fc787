#!/usr/bin/env bash
# Corrupted on-disk structures and a damaged pool directory
# (docs/architecture.md, Guarantees: bad input): the CLI and the server refuse
# the pool with a message that names the broken part, and write nothing (every
# pool file is byte-identical afterwards); after the
# damage is undone, the pool opens and the data is intact. Redundant copies
# (the second vdev label, the older superblock slot) are used when one copy
# is bad. A vdev whose labels are both bad, or whose file is missing, is a
# lost device: the pool (metadata on both vdevs) opens degraded without it,
# writes nothing to it, and is whole again once it is back.
#
# A corrupt exNode cannot be produced from outside: exNodes live inside the
# pool's tree and the CLI offers no way to write one (tessera exnode show only
# prints it); the exNode parser's bad-input cases are unit tests.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd sha256sum dd
make_tmpdir

new_pool 2 64M
new_volume vol0 32M
VDEV_BLOCKS=$(((64 << 20) / 4096))

# Some data to find again.
random_file "$T/data" $((4 << 20))
captive "$POOL" nbdcopy "$T/data" 'nbd+unix:///vol0?socket=@SOCK@' || fail "nbdcopy into vol0 failed"
check_data() {
  captive "$POOL" nbdcopy 'nbd+unix:///vol0?socket=@SOCK@' "$T/data.back" ||
    fail "$1: reading vol0 failed"
  cmp -s -n $((4 << 20)) "$T/data" "$T/data.back" || fail "$1: vol0's data changed"
  rm -f "$T/data.back"
}

pool_files() { (cd "$POOL" && sha256sum pool.conf vdev*.img); }
# flip FILE OFFSET: inverts one byte.
flip() {
  "$PYTHON" -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))
' "$1" "$2"
}
save_block() { dd if="$POOL/$1" of="$T/saved.$1.$2" bs=4096 skip="$2" count=1 status=none; }
restore_block() { dd if="$T/saved.$1.$2" of="$POOL/$1" bs=4096 seek="$2" count=1 conv=notrunc status=none; }

# refused WHAT REGEX: tessera pool status, volume list and nbdkit all refuse
# the pool with a message matching REGEX, and no pool file changes.
refused() {
  local what=$1 regex=$2
  pool_files >"$T/files.before"
  expect_fail "$what: tessera pool status" tessera pool status --pool "$POOL"
  expect_match "$what: tessera pool status" "$regex" "$EXPECT_OUT"
  log "  pool status: $EXPECT_OUT"
  expect_fail "$what: tessera volume list" tessera volume list --pool "$POOL"
  expect_match "$what: tessera volume list" "$regex" "$EXPECT_OUT"
  expect_fail "$what: nbdkit" nbdkit -U "$T/x.sock" "$PLUGIN" pool="$POOL" --run true
  expect_match "$what: nbdkit" "$regex" "$EXPECT_OUT"
  pool_files >"$T/files.after"
  cmp -s "$T/files.before" "$T/files.after" ||
    fail "$what: refusing the pool changed it: $(diff "$T/files.before" "$T/files.after")"
}

# degraded WHAT VDEV STATE: tessera pool status opens the pool degraded, with
# VDEV in STATE; nothing is written to VDEV's file (when it exists).
degraded() {
  local what=$1 vdev=$2 state=$3 before=""
  [ -e "$POOL/$vdev.img" ] && before=$(sha256sum <"$POOL/$vdev.img")
  tessera pool status --pool "$POOL" >"$T/status.out" 2>&1 ||
    fail "$what: the pool does not open degraded: $(cat "$T/status.out")"
  grep -Eq "^health: +degraded" "$T/status.out" || fail "$what: pool status does not say degraded: $(cat "$T/status.out")"
  grep -Eq "^$vdev +.* $state " "$T/status.out" || fail "$what: $vdev is not $state: $(cat "$T/status.out")"
  log "  $vdev is $state; the pool opens degraded"
  [ -z "$before" ] || [ "$(sha256sum <"$POOL/$vdev.img")" = "$before" ] ||
    fail "$what: opening the pool wrote to the lost vdev $vdev"
}

log "one label copy of vdev1 is corrupt: the other copy is used"
save_block vdev1.img 0
flip "$POOL/vdev1.img" 60
tessera pool status --pool "$POOL" >/dev/null || fail "the pool does not open with one good label copy"
check_data "one bad label copy"
restore_block vdev1.img 0

log "both label copies of vdev1 are corrupt"
save_block vdev1.img 0
save_block vdev1.img $((VDEV_BLOCKS - 1))
flip "$POOL/vdev1.img" 60
flip "$POOL/vdev1.img" $(((VDEV_BLOCKS - 1) * 4096 + 60))
degraded "both labels of vdev1 bad" vdev1 faulted
restore_block vdev1.img 0
restore_block vdev1.img $((VDEV_BLOCKS - 1))
tessera pool status --pool "$POOL" >/dev/null || fail "the pool does not open after the labels were restored"
check_data "labels restored"

log "both label copies of vdev0 are corrupt in the pool uuid field"
save_block vdev0.img 0
save_block vdev0.img $((VDEV_BLOCKS - 1))
flip "$POOL/vdev0.img" 16
flip "$POOL/vdev0.img" $(((VDEV_BLOCKS - 1) * 4096 + 16))
degraded "both labels of vdev0 bad" vdev0 faulted
restore_block vdev0.img 0
restore_block vdev0.img $((VDEV_BLOCKS - 1))
check_data "vdev0's labels restored"

log "a vdev file is missing"
mv "$POOL/vdev1.img" "$T/vdev1.img"
degraded "missing vdev file" vdev1 missing
[ -e "$POOL/vdev1.img" ] && fail "opening the pool created the missing vdev file"
mv "$T/vdev1.img" "$POOL/vdev1.img"
check_data "vdev1's file back"

log "pool.conf is malformed"
cp "$POOL/pool.conf" "$T/pool.conf"
printf '[pool\nname = x\n' >"$POOL/pool.conf"
refused "malformed pool.conf" "pool.conf"
printf '[pool]\nname=default\n[vdev]\ntier=fastest\n' >"$POOL/pool.conf"
refused "incomplete pool.conf" "pool.conf|path|size|vdev"
sed 's/^\[vdev vdev1\]$/&\nkind = nfs/' "$T/pool.conf" >"$POOL/pool.conf"
refused "unknown vdev kind" "vdev 'vdev1'.*unknown kind 'nfs'.*known kinds: file"
cp "$T/pool.conf" "$POOL/pool.conf"

log "every superblock slot is corrupt"
for v in vdev0.img vdev1.img; do
  for b in 1 2; do
    save_block "$v" "$b"
    flip "$POOL/$v" $((b * 4096 + 40))
  done
done
refused "all superblocks bad" "superblock"
for v in vdev0.img vdev1.img; do for b in 1 2; do restore_block "$v" "$b"; done; done
tessera pool status --pool "$POOL" >/dev/null || fail "the pool does not open after the superblocks were restored"
check_data "superblocks restored"

log "the newest superblock is corrupt on every vdev: the previous one is used"
txg=$(tessera pool status --pool "$POOL" --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["txg"])')
newest=$((1 + txg % 2))
for v in vdev0.img vdev1.img; do flip "$POOL/$v" $((newest * 4096 + 40)); done
tessera pool status --pool "$POOL" >"$T/status.out" 2>&1 ||
  fail "the pool does not open with only its newest superblock (txg $txg) corrupt: $(cat "$T/status.out")"
check_data "newest superblock corrupt"
pool_check
