#!/usr/bin/env bash
# A failed fdatasync is not retried into a success (issue 13, faults): with
# io=buffered, the kernel reports lost write-back once, and a later
# fdatasync of the same file succeeds although the data never reached the
# device. The vdev here is a loop device over nbdfuse over nbdkit's memory
# plugin with the error filter, which fails writes while $T/fail exists.
# Once a flush has failed, every later flush of that vdev fails too
# (core/vdev/file_vdev.h, Flush); the server keeps running, and after a
# restart the pool opens at its last good commit with the data flushed
# before the failure intact.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd nbdkit nbdfuse losetup
require_loop_and_fuse
make_tmpdir

log "a disk that fails writes on demand: nbdkit error filter -> nbdfuse -> loop"
nbdkit -f --exit-with-parent -U "$T/disk.sock" -P "$T/disk.pid" --filter=error memory 256M \
  error-pwrite-rate=100% error-pwrite-file="$T/fail" error-pwrite=EIO >"$T/disk.log" 2>&1 &
disk_pid=$!
on_exit "kill_started $disk_pid"
for ((i = 0; i < 100; i++)); do [ -S "$T/disk.sock" ] && break; sleep 0.1; done
[ -S "$T/disk.sock" ] || fail "the disk server did not start: $(cat "$T/disk.log")"
SOCK=$T/disk.sock attach_loop ""
disk=$LOOP_DEV
log "  disk $disk"

POOL=$T/pool
tessera pool create --pool "$POOL" --vdev "path=$disk,io=buffered" >"$T/create.out" 2>&1 ||
  fail "pool create on $disk failed: $(cat "$T/create.out")"
new_volume v 64M
start_server "$POOL" commit-interval=600000

"$PYTHON" - "$SOCK" "$T/fail" <<'PY' || fail "the flushes after a lost write-back did not all fail"
import nbd, os, sys
from nbd_helpers import connect
h = connect(sys.argv[1], "v")
h.pwrite(b"\xa5" * (1 << 20), 0)
h.flush()                                  # durable: read back after the restart
open(sys.argv[2], "w").close()             # the disk now fails writes
h.pwrite(b"\x5a" * (1 << 20), 4 << 20)     # buffered: accepted
results = []
for attempt in range(2):
    try:
        h.flush()
        results.append("ok")
    except nbd.Error as e:
        results.append("failed")
    if attempt == 0:
        os.unlink(sys.argv[2])             # the disk works again
print("flushes after the lost write-back:", results)
assert results == ["failed", "failed"], results
PY
server_alive || fail "the server exited after the failed flushes"

log "restart: the pool opens at its last good commit"
crash_server
start_server "$POOL"
"$PYTHON" - "$SOCK" <<'PY' || fail "the data flushed before the failure did not survive"
import sys
from nbd_helpers import connect
h = connect(sys.argv[1], "v")
assert h.pread(1 << 20, 0) == b"\xa5" * (1 << 20)
PY
stop_server
pool_check
log "passed"
