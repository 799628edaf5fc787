#!/usr/bin/env bash
# The CLI around a running server: `tessera serve` (foreground, as
# scripts/run.sh uses it) serves every volume on DIR/nbd.sock; volume
# commands go through the control socket while it runs (a volume created
# meanwhile is exported at once, a renamed one under its new name);
# `tessera attach` prints a block device
# (nbdfuse + loop here) that takes a filesystem; `tessera detach` removes it;
# SIGINT (Ctrl-C) stops the server cleanly and the pool checks clean.
# Needs root for the attach part (skips otherwise).
source "$(dirname "$0")/functions.sh"
require_build
require_cmd nbdinfo nbdcopy nbdsh mkfs.ext4 e2fsck
require_loop_and_fuse
make_tmpdir

new_pool 1 512M
new_volume vol0 128M
SOCK=$POOL/nbd.sock

log "tessera serve"
# Not through the tessera() function: $! must be the process that becomes
# nbdkit, not a subshell (which would ignore SIGINT as a background job).
TESSERA_PLUGIN=$PLUGIN "$TESSERA_BIN" serve --pool "$POOL" >"$T/serve.log" 2>&1 &
SERVER_PID=$!
on_exit "kill_started $SERVER_PID"
for ((i = 0; i < 300; i++)); do
  [ -S "$SOCK" ] && nbdinfo --size "$(nbd_uri vol0)" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "tessera serve exited: $(cat "$T/serve.log")"
  sleep 0.1
done
[ "$(nbdinfo --size "$(nbd_uri vol0)")" = $((128 << 20)) ] || fail "vol0 is not served on $SOCK"
grep -q "nbd+unix:///vol0" "$T/serve.log" || fail "tessera serve does not print the URI of vol0: $(cat "$T/serve.log")"

log "volume commands through the control socket"
tessera volume create vol1 --pool "$POOL" --size 64M >/dev/null || fail "volume create while serving failed"
tessera volume list --pool "$POOL" --json >"$T/list.json" || fail "volume list while serving failed"
grep -q '"vol1"' "$T/list.json" || fail "vol1 is not listed: $(cat "$T/list.json")"
nbdinfo --list "nbd+unix:///?socket=$SOCK" | grep -q "export=.*vol1\|vol1" ||
  fail "vol1, created while serving, is not in the export list"
[ "$(nbdinfo --size "$(nbd_uri vol1)")" = $((64 << 20)) ] || fail "vol1 is not served"

log "volume rename while serving: data, snapshot and export follow the new name"
random_file "$T/data" $((4 << 20))
nbdcopy "$T/data" "$(nbd_uri vol1)" || fail "writing to vol1 failed"
tessera snapshot create vol1@s --pool "$POOL" >/dev/null || fail "snapshot create vol1@s failed"
# A connected client holds the volume: the rename is refused.
nbdsh -u "$(nbd_uri vol1)" -c "open('$T/held', 'w').close(); import time; time.sleep(30)" &
HOLDER=$!
on_exit "kill_started $HOLDER"
for ((i = 0; i < 300; i++)); do [ -e "$T/held" ] && break; sleep 0.1; done
[ -e "$T/held" ] || fail "the holding client did not connect to vol1"
expect_fail "rename of a volume with a connected client" tessera volume rename vol1 vol2 --pool "$POOL"
expect_match "rename of a volume with a connected client" "in use" "$EXPECT_OUT"
kill_started $HOLDER
wait $HOLDER 2>/dev/null || true
tessera volume rename vol1 vol2 --pool "$POOL" >"$T/rename.out" 2>&1 || fail "volume rename failed: $(cat "$T/rename.out")"
tessera volume list --pool "$POOL" --json >"$T/list.json"
grep -q '"vol2"' "$T/list.json" && ! grep -q '"vol1"' "$T/list.json" ||
  fail "after the rename, the list is not vol2 without vol1: $(cat "$T/list.json")"
nbdinfo --list "nbd+unix:///?socket=$SOCK" >"$T/exports"
grep -q 'vol2@s' "$T/exports" && ! grep -q 'vol1' "$T/exports" ||
  fail "after the rename, the exports are not vol2 and vol2@s: $(cat "$T/exports")"
for export in vol2 vol2@s; do
  [ "$(nbdcopy "$(nbd_uri "$export")" - | head -c $((4 << 20)) | sha256sum)" = "$(sha256sum <"$T/data")" ] ||
    fail "$export does not read back what vol1 held"
done
expect_fail "reading the old name" nbdinfo --size "$(nbd_uri vol1)"

log "tessera attach / detach"
dev=$(tessera attach vol0 --pool "$POOL" 2>"$T/attach.err") || fail "tessera attach failed: $(cat "$T/attach.err")"
on_exit "tessera detach vol0 --pool '$POOL'"
[ -b "$dev" ] || fail "tessera attach printed '$dev', which is not a block device"
log "attached vol0 as $dev"
[ "$(blockdev --getsize64 "$dev")" = $((128 << 20)) ] || fail "$dev has the wrong size"
expect_fail "a second attach of vol0" tessera attach vol0 --pool "$POOL"
log "  second attach: $EXPECT_OUT"
mkfs.ext4 -q -F "$dev" >"$T/mkfs.out" 2>&1 || fail "mkfs.ext4 on $dev failed: $(cat "$T/mkfs.out")"
mount_fs "$dev" "$T/mnt"
random_file "$T/mnt/file" $((8 << 20))
sha=$(sha256sum <"$T/mnt/file")
umount_fs "$T/mnt"
tessera detach vol0 --pool "$POOL" >"$T/detach.out" 2>&1 || fail "tessera detach failed: $(cat "$T/detach.out")"
losetup -a | grep -q "$POOL" && fail "a loop device still refers to the pool after detach: $(losetup -a)"
expect_fail "detach of a volume that is not attached" tessera detach vol0 --pool "$POOL"

log "attach again (--json): the file is there"
tessera attach vol0 --pool "$POOL" --json >"$T/attach.json" 2>"$T/attach.err" ||
  fail "tessera attach (again) failed: $(cat "$T/attach.err")"
dev=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["device"])' "$T/attach.json") ||
  fail "tessera attach --json printed no device: $(cat "$T/attach.json")"
fsck_clean ext4 "$dev"
mount_fs "$dev" "$T/mnt" ro
[ "$(sha256sum <"$T/mnt/file")" = "$sha" ] || fail "the file changed between attaches"
umount_fs "$T/mnt"
tessera detach vol0 --pool "$POOL" --json >"$T/detach.json" 2>&1 || fail "tessera detach failed"
grep -q '"detached": "vol0"' "$T/detach.json" || fail "tessera detach --json: $(cat "$T/detach.json")"

log "Ctrl-C stops the server cleanly"
kill -INT "$SERVER_PID"
rc=0
for ((i = 0; i < 600; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVER_PID" 2>/dev/null && fail "tessera serve did not stop within 60 s of SIGINT"
wait "$SERVER_PID" || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 130 ] || fail "tessera serve exited with status $rc on SIGINT"
pool_check

log "serve again on the same pool (nbdkit may leave its socket file behind)"
TESSERA_PLUGIN=$PLUGIN "$TESSERA_BIN" serve --pool "$POOL" >"$T/serve2.log" 2>&1 &
SERVER_PID=$!
on_exit "kill_started $SERVER_PID"
for ((i = 0; i < 300; i++)); do
  nbdinfo --size "$(nbd_uri vol2)" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "tessera serve (again) exited: $(cat "$T/serve2.log")"
  sleep 0.1
done
[ "$(nbdinfo --size "$(nbd_uri vol2)")" = $((64 << 20)) ] || fail "vol2 (renamed from vol1) is not served after a restart"
stop_server
