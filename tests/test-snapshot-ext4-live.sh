#!/usr/bin/env bash
# A snapshot of a live filesystem: ext4 on the volume (nbdfuse + loop) while
# fio writes files in it with fsyncs; the filesystem is frozen (fsfreeze, as
# a guest agent would), the snapshot taken through the running server, and
# thawed; fio keeps writing. Then the read-only export VOL@SNAP is attached
# the same way: it fscks clean, mounts read-only, and holds the files written
# before the snapshot with the checksums they had. The live volume fscks
# clean too, after fio finished.
source "$(dirname "$0")/functions.sh"
require_build
require_loop_and_fuse
require_cmd fio mkfs.ext4 e2fsck fsfreeze sha256sum
make_tmpdir
new_pool 1 1G
new_volume vol0 256M
start_server "$POOL"

attach_loop vol0
mkfs.ext4 -q -F "$LOOP_DEV" >"$T/mkfs.out" 2>&1 || fail "mkfs.ext4 failed: $(cat "$T/mkfs.out")"
mount_fs "$LOOP_DEV" "$T/mnt"
mkdir -p "$T/mnt/before" "$T/mnt/fio"
for i in 1 2 3 4 5; do head -c $((i * 300000 + 17)) /dev/urandom >"$T/mnt/before/f$i"; done
sync
sums "$T/mnt/before" >"$T/sums.before"

log "fio writes into the filesystem; snapshot while it runs"
fio --name=live --directory="$T/mnt/fio" --rw=randwrite --bs=4k --size=32M --nrfiles=4 \
  --fsync=16 --time_based --runtime=6 --output="$T/fio.out" >/dev/null 2>&1 &
FIO_PID=$!
on_exit "kill_started $FIO_PID"
sleep 2
# The thaw is registered before the freeze (tests/functions.sh design note 2).
on_exit "fsfreeze -u '$T/mnt'"
fsfreeze -f "$T/mnt" || fail "fsfreeze -f failed"
snap_out=$(tessera snapshot create vol0@live --pool "$POOL" 2>&1) || fail "snapshot create failed: $snap_out"
fsfreeze -u "$T/mnt" || fail "fsfreeze -u failed"
wait "$FIO_PID" || fail "fio failed: $(tail -n 20 "$T/fio.out")"
grep -q 'err= 0' "$T/fio.out" || fail "fio reported errors: $(tail -n 20 "$T/fio.out")"
echo "written after the snapshot" >"$T/mnt/before/later"
umount_fs "$T/mnt"
fsck_clean ext4 "$LOOP_DEV"
detach_loop

log "the snapshot export: fsck clean, files as before"
attach_loop vol0@live
fsck_clean ext4 "$LOOP_DEV"
mount_fs "$LOOP_DEV" "$T/mnt" ro,noload
sums "$T/mnt/before" >"$T/sums.snap"
cmp -s "$T/sums.before" "$T/sums.snap" || fail "the snapshot's files differ: $(diff "$T/sums.before" "$T/sums.snap" | head -n 5)"
[ ! -e "$T/mnt/before/later" ] || fail "the snapshot holds a file written after it"
[ -n "$(ls "$T/mnt/fio")" ] || fail "the snapshot holds none of fio's files"
umount_fs "$T/mnt"
detach_loop
stop_server
pool_check
