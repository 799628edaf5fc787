#!/usr/bin/env bash
# Block devices as vdevs, on loop devices over sparse files in $T: pool
# create refuses a device that holds an ext4 filesystem (naming it), one
# given a size= it does not have, and a device another pool's label is on,
# and changes nothing; with --force it takes them, whole (pool.conf records
# the device's size). A volume served from the pool is written by a seeded
# writer while `vdev add` refuses a third device carrying a partition table,
# then takes it with --force; rows land on it, and everything reads back
# after a restart, and after `vdev remove` moves them off the third device
# while served, which then lets go of it. `vdev grow` takes the space of a
# loop device that grew (losetup -c), and `vdev replace` moves a vdev onto
# a new loop device, both while served, refusing a device too small and a
# size the device lacks. While served, the devices are
# held O_EXCL (a mount or a second pool create gets "busy"); once a command
# ends, they are free at once. The device
# nodes keep their mode and owner, and a node a refused create was given
# is not unlinked. Skips when no loop device can be made here.
source "$(dirname "$0")/functions.sh"
require_build
[ "$(id -u)" -eq 0 ] || skip "needs root for loop devices"
[ -e /dev/loop-control ] || skip "no /dev/loop-control (loop devices are not available)"
require_cmd losetup mkfs.ext4 sfdisk blkid mknod stat sha256sum
make_tmpdir
POOL=$T/pool
seed=${TESSERA_TEST_SEED:-$RANDOM}
log "seed $seed (set TESSERA_TEST_SEED to repeat)"

# new_loop NAME SIZE: a loop device over the sparse file $T/NAME.img, in
# $LOOP; detached on exit (losetup -d; tests/sweep.sh also finds it by its
# backing file under $T).
new_loop() {
  [ -e "$T/$1.img" ] || truncate -s "$2" "$T/$1.img"
  LOOP=$(losetup --find --show "$T/$1.img" 2>"$T/losetup.err") ||
    skip "losetup --find --show failed, no loop device may be made here: $(cat "$T/losetup.err")"
  on_exit "losetup -d '$LOOP'"
}
node_state() { stat -L -c '%F %a %u %g %t:%T' "$1"; }

new_loop d0 128M
L0=$LOOP
new_loop d1 128M
L1=$LOOP
# The partition table is written to d2's file before it is attached, so the
# kernel reads no stale cache and makes no partition devices.
truncate -s 128M "$T/d2.img"
echo ',,L' | sfdisk -q "$T/d2.img" >"$T/sfdisk.log" 2>&1 || fail "sfdisk failed: $(cat "$T/sfdisk.log")"
new_loop d2 128M
L2=$LOOP
new_loop small 8M
mknod "$T/small-node" b $(stat -c '0x%t 0x%T' "$LOOP") || fail "mknod of a node for $LOOP failed"
log "loop devices: $L0 $L1 $L2 (128M), $LOOP (8M, also $T/small-node)"
before0=$(node_state "$L0") before1=$(node_state "$L1") before2=$(node_state "$L2")

mkfs.ext4 -q -F "$L1" >"$T/mkfs.log" 2>&1 || fail "mkfs.ext4 $L1 failed: $(cat "$T/mkfs.log")"
sum0=$(sha256sum <"$T/d0.img")

log "refusals that change nothing"
expect_fail "pool create over an ext4 device" \
  tessera pool create --pool "$POOL" --vdev "tier=fastest,path=$L0" --vdev "tier=fastest,path=$L1"
log "refused: $EXPECT_OUT"
expect_match "the ext4 refusal" "vdev 'vdev1' \\($L1\\) holds an ext4 filesystem; refusing to overwrite it \\(--force" \
  "$EXPECT_OUT"
expect_fail "pool create with a size= the device does not have" \
  tessera pool create --pool "$POOL" --vdev "tier=fastest,path=$L0,size=64M"
expect_match "the size refusal" "size 64M differs from the block device's 128M" "$EXPECT_OUT"
expect_fail "pool create on a device node of a device too small" \
  tessera pool create --pool "$POOL" --vdev "tier=fastest,path=$T/small-node,size=32M"
[ -b "$T/small-node" ] || fail "a refused pool create unlinked the device node $T/small-node"
[ ! -e "$POOL" ] || fail "a refused pool create left $POOL: $(ls -la "$POOL")"
[ "$(sha256sum <"$T/d0.img")" = "$sum0" ] || fail "a refused pool create wrote to $L0"
blkid -p "$L1" | grep -q 'TYPE="ext4"' || fail "a refused pool create damaged the ext4 filesystem on $L1"

log "pool create --force takes them, whole"
out=$(tessera pool create --pool "$POOL" --force --vdev "tier=fastest,path=$L0" --vdev "tier=fastest,path=$L1" 2>&1) ||
  fail "pool create --force failed: $out"
log "$out"
expect_match "pool create --force" "created pool 'default' in $POOL: 2 vdevs, 256M" "$out"
[ "$(grep -c '^size = 134217728$' "$POOL/pool.conf")" = 2 ] || fail "pool.conf does not record the devices' size: $(cat "$POOL/pool.conf")"
uuid=$(tessera pool status --pool "$POOL" --json | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["uuid"])')

log "a device is free the moment the command that held it ends"
# The kernel tears an io_uring ring down after the process has exited; a
# device registered with the ring stayed claimed until then, so an O_EXCL
# open right after a command got EBUSY (about 3 times in 5 here).
for ((i = 0; i < 20; i++)); do
  tessera pool status --pool "$POOL" >/dev/null || fail "pool status failed"
  "$PYTHON" -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_RDWR | os.O_EXCL))' "$L0" 2>"$T/excl.err" ||
    fail "$L0 was still claimed after pool status ended (round $i): $(cat "$T/excl.err")"
done

log "another pool create on a vdev of this pool names its label"
expect_fail "pool create on another pool's vdev" tessera pool create --pool "$T/other" --vdev "tier=fastest,path=$L0"
expect_match "the label refusal" "holds a Tessera vdev label of pool $uuid \\(vdev 'vdev0'\\)" "$EXPECT_OUT"
[ ! -e "$T/other" ] || fail "a refused pool create left $T/other"

new_volume vol0 64M
export T  # tests/seeded_writer.py keeps its model there

start_server "$POOL"
log "while served, the devices are held exclusively"
expect_fail "pool create on a served vdev" tessera pool create --pool "$T/other" --force --vdev "tier=fastest,path=$L1"
expect_match "the busy refusal" "busy.*mounted, or another pool or program holds it" "$EXPECT_OUT"
mkdir -p "$T/mnt"
if mount -t ext4 "$L1" "$T/mnt" 2>"$T/mount.err"; then
  umount "$T/mnt"
  fail "$L1 was mounted while the pool serves it"
fi
log "mount refused: $(cat "$T/mount.err")"
grep -q busy "$T/mount.err" || fail "the mount of $L1 was refused, but not as busy: $(cat "$T/mount.err")"

log "a writer runs on vol0 while vdev add refuses, then takes, $L2"
"$PYTHON" "$TESSERA_SRC/tests/seeded_writer.py" "$SOCK" vol0 run "$seed" >"$T/writer.log" 2>&1 &
writer=$!
on_exit "kill_started $writer"
sleep 2
kill -0 "$writer" 2>/dev/null || fail "the writer stopped early: $(cat "$T/writer.log")"
conf=$(cat "$POOL/pool.conf")
expect_fail "vdev add of a partitioned device" tessera vdev add --pool "$POOL" --vdev "tier=fastest,path=$L2,name=d2"
log "refused: $EXPECT_OUT"
expect_match "the partition table refusal" "vdev 'd2' \\($L2\\) holds a dos partition table; refusing to overwrite it" "$EXPECT_OUT"
[ "$(cat "$POOL/pool.conf")" = "$conf" ] || fail "a refused vdev add changed pool.conf"
blkid -p "$L2" | grep -q 'PTTYPE="dos"' || fail "a refused vdev add damaged the partition table of $L2"
out=$(tessera vdev add --pool "$POOL" --force --vdev "tier=fastest,path=$L2,name=d2" 2>&1) ||
  fail "vdev add --force under load failed: $out"
log "$out"
expect_match "vdev add --force" "added vdev d2: tier fastest, index 2, 128M, $L2" "$out"
for ((i = 0; i < 120; i++)); do
  used=$(vdev_used_bytes d2)
  [ "$used" -ge $((8 << 20)) ] && break
  kill -0 "$writer" 2>/dev/null || break
  sleep 0.5
done
touch "$T/stop"
wait "$writer" || fail "the writer found wrong data: $(cat "$T/writer.log")"
[ "$used" -ge $((8 << 20)) ] || fail "no rows landed on d2 (used $used bytes)"
log "d2 holds $used bytes (pool status --json)"
pool_check

log "after a restart every block reads back"
stop_server
start_server "$POOL"
"$PYTHON" "$TESSERA_SRC/tests/seeded_writer.py" "$SOCK" vol0 verify "$seed" >"$T/verify.log" 2>&1 ||
  fail "data differs after the restart: $(cat "$T/verify.log")"
[ "$(vdev_used_bytes d2)" -ge $((8 << 20)) ] || fail "d2 lost its rows over the restart"
pool_check

log "vdev remove d2 while served: its rows move off and the device is let go"
out=$(tessera vdev remove d2 --pool "$POOL" 2>/dev/null) || fail "vdev remove d2 failed"
log "$out"
expect_match "vdev remove" "^removed vdev d2: " "$out"
"$PYTHON" - "$L2" <<'PY' || fail "$L2 is still held open after vdev remove"
import os, sys
os.close(os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL))
PY
"$PYTHON" "$TESSERA_SRC/tests/seeded_writer.py" "$SOCK" vol0 verify "$seed" >"$T/verify.log" 2>&1 ||
  fail "data differs after the remove: $(cat "$T/verify.log")"
pool_check

log "vdev grow vdev0 once its device grew (losetup -c), while served"
expect_fail "vdev grow before the device grew" tessera vdev grow vdev0 --pool "$POOL"
expect_match "grow refusal" "vdev 'vdev0' has 128M; give a larger size \(or grow the device first\)" "$EXPECT_OUT"
truncate -s 192M "$T/d0.img"
losetup -c "$L0" || fail "losetup -c $L0 failed"
expect_fail "vdev grow past the device" tessera vdev grow vdev0 --size 1G --pool "$POOL"
expect_match "grow refusal" "the block device $L0 has 201326592 bytes, less than the 1073741824 asked for" "$EXPECT_OUT"
out=$(tessera vdev grow vdev0 --pool "$POOL" 2>&1) || fail "vdev grow vdev0 failed: $out"
log "$out"
expect_match "vdev grow" "^grew vdev vdev0 to 192M$" "$out"
grep -q '^size = 201326592$' "$POOL/pool.conf" || fail "pool.conf does not give vdev0 its new size"
"$PYTHON" "$TESSERA_SRC/tests/seeded_writer.py" "$SOCK" vol0 verify "$seed" >"$T/verify.log" 2>&1 ||
  fail "data differs after the grow: $(cat "$T/verify.log")"
pool_check

log "vdev replace vdev1 by a new loop device, while served"
new_loop d3 160M
L3=$LOOP
expect_fail "replace by a device too small" tessera vdev replace vdev1 "$T/small-node" --pool "$POOL"
expect_match "replace refusal" "vdev replace: $T/small-node has 8M; vdev 'vdev1' needs at least 128M" "$EXPECT_OUT"
out=$(tessera vdev replace vdev1 "$L3" --pool "$POOL" 2>/dev/null) || fail "vdev replace vdev1 $L3 failed: $out"
log "$out"
grep -q "^path = $L3\$" "$POOL/pool.conf" || fail "pool.conf does not name $L3 for vdev1"
"$PYTHON" - "$L1" <<'PY' || fail "$L1 is still held open after vdev replace"
import os, sys
os.close(os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL))
PY
"$PYTHON" "$TESSERA_SRC/tests/seeded_writer.py" "$SOCK" vol0 verify "$seed" >"$T/verify.log" 2>&1 ||
  fail "data differs after the replace: $(cat "$T/verify.log")"
pool_check
stop_server
log "after a restart, the grown and the new device serve every block"
start_server "$POOL"
"$PYTHON" "$TESSERA_SRC/tests/seeded_writer.py" "$SOCK" vol0 verify "$seed" >"$T/verify.log" 2>&1 ||
  fail "data differs after the restart: $(cat "$T/verify.log")"
[ "$(tessera vdev list --pool "$POOL" --json | "$PYTHON" -c '
import json, sys
print(sum(v["size_bytes"] for v in json.load(sys.stdin) if v["name"] == "vdev0"))')" = 201326592 ] ||
  fail "vdev0 is not 192M after the restart"
stop_server
pool_check

[ "$(node_state "$L0")" = "$before0" ] || fail "$L0 changed: $before0 -> $(node_state "$L0")"
[ "$(node_state "$L1")" = "$before1" ] || fail "$L1 changed: $before1 -> $(node_state "$L1")"
[ "$(node_state "$L2")" = "$before2" ] || fail "$L2 changed: $before2 -> $(node_state "$L2")"

log "the check can fail: a flipped byte in vol0 is caught"
captive "$POOL" "$NBDSH" -u 'nbd+unix:///vol0?socket=@SOCK@' -c '
b = bytearray(h.pread(4096, 0)); b[7] ^= 0xff; h.pwrite(bytes(b), 0); h.flush()' || fail "nbdsh could not flip a byte"
start_server "$POOL"
if "$PYTHON" "$TESSERA_SRC/tests/seeded_writer.py" "$SOCK" vol0 verify "$seed" >/dev/null 2>&1; then
  fail "the verifier passed over a flipped byte"
fi
stop_server
