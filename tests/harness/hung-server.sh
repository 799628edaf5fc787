#!/usr/bin/env bash
# A test that hangs, for tests/test-harness-sigstop.sh (not run on its own by
# scripts/test.sh: its name does not start with test-). ext4 on a volume
# attached through nbdfuse + loop; a writer fsyncs files into it; the server
# is stopped with SIGSTOP in the middle, so that the writer and the kernel's
# writeback wait in state D on the FUSE file. The test then waits for the
# writer forever: only its time bound (scripts/run-one-test.sh) ends it, and
# its cleanup must still leave nothing behind.
#
# The server runs in its own session (SERVER_OWN_SESSION): the SIGCONT and
# SIGTERM that timeout sends to the test's process group would otherwise
# wake it and let it exit cleanly, which a server that really hangs does not
# do. Only SIGKILL ends it.
source "$(dirname "$0")/../functions.sh"
require_build
require_loop_and_fuse
require_cmd mkfs.ext4 dd
make_tmpdir
new_pool 1 512M
new_volume vol0 128M
SERVER_OWN_SESSION=1 start_server "$POOL"
attach_loop vol0
mkfs.ext4 -q -F "$LOOP_DEV" >"$T/mkfs.out" 2>&1 || fail "mkfs.ext4 failed: $(cat "$T/mkfs.out")"
mount_fs "$LOOP_DEV" "$T/mnt"

log "writer: 1 MiB files with fsync, without end"
(
  i=0
  while :; do
    dd if=/dev/urandom of="$T/mnt/f$((i % 16))" bs=64k count=16 conv=fsync status=none
    i=$((i + 1))
    echo "$i" >"$T/writer.count"
  done
) &
WRITER_PID=$!
on_exit "kill_started $WRITER_PID"
for ((i = 0; i < 100; i++)); do
  [ "$(cat "$T/writer.count" 2>/dev/null || echo 0)" -ge 3 ] && break
  sleep 0.1
done
[ "$(cat "$T/writer.count" 2>/dev/null || echo 0)" -ge 3 ] || fail "the writer wrote nothing in 10 s"

log "SIGSTOP to the server $SERVER_PID in the middle of the writes"
kill -STOP "$SERVER_PID"
sleep 1
before=$(cat "$T/writer.count")
sleep 2
after=$(cat "$T/writer.count")
[ "$before" = "$after" ] || fail "the writer went on while the server was stopped ($before -> $after files)"
log "the writer is stuck after $after files; waiting for it (only the time bound ends this)"
# In the background with wait, so that SIGTERM runs the EXIT trap at once
# (tests/functions.sh design note 7).
wait "$WRITER_PID"
fail "the writer finished while the server was stopped"
