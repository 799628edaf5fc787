#!/usr/bin/env bash
# Snapshots over NBD: write pattern A, snapshot while serving (through the
# control socket), write pattern B. The read-only export VOL@SNAP reads A and
# refuses writes; the volume reads B; both after a restart too; the export
# list shows the snapshot; deleting it works once nothing exports it.
source "$(dirname "$0")/functions.sh"
require_build
make_tmpdir

new_pool 1 512M
new_volume vol0 64M
start_server "$POOL"

# The writer stays connected while the snapshot is taken, so its unflushed
# data is still in the server's cache: the snapshot must flush it first.
"$PYTHON" - "$SOCK" "$TESSERA_BIN" "$POOL" <<'PY' || fail "writing pattern A and snapshotting failed"
import subprocess, sys
from nbd_helpers import connect
h = connect(sys.argv[1], "vol0")
h.pwrite(b"A" * (1 << 20), 0)   # acknowledged, not flushed
subprocess.run([sys.argv[2], "snapshot", "create", "vol0@first", "--pool", sys.argv[3]], check=True,
               stdout=subprocess.DEVNULL)
h.pwrite(b"C" * (1 << 20), 0)   # after the snapshot: not in it
PY
"$PYTHON" - "$SOCK" <<'PY' || fail "writing pattern B failed"
import sys
from nbd_helpers import connect
h = connect(sys.argv[1], "vol0")
h.pwrite(b"B" * (1 << 20), 0); h.flush()
PY

check_both() {
  "$PYTHON" - "$SOCK" <<'PY'
import nbd, sys
from nbd_helpers import connect
snap = connect(sys.argv[1], "vol0@first")
assert snap.is_read_only(), "the snapshot export is writable"
assert snap.pread(1 << 20, 0) == b"A" * (1 << 20), "the snapshot does not read pattern A"
try:
    snap.pwrite(b"x" * 4096, 0)
    raise SystemExit("a write to the snapshot succeeded")
except nbd.Error:
    pass
live = connect(sys.argv[1], "vol0")
assert live.pread(1 << 20, 0) == b"B" * (1 << 20), "the volume does not read pattern B"
PY
}
check_both || fail "snapshot and volume contents are wrong"
nbdinfo --list "nbd+unix:///?socket=$SOCK" | grep -q 'export="vol0@first"' || fail "the export list does not show vol0@first"
tessera snapshot list vol0 --pool "$POOL" | grep -q "vol0@first" || fail "snapshot list does not show vol0@first"

stop_server
start_server "$POOL"
check_both || fail "after a restart, snapshot and volume contents are wrong"
stop_server

expect_nonzero() { if "$@" >/dev/null 2>&1; then fail "'$*' succeeded"; fi; }
expect_nonzero tessera snapshot create vol0 --pool "$POOL"
expect_nonzero tessera snapshot create vol0@first --pool "$POOL"
expect_nonzero tessera snapshot delete vol0@nope --pool "$POOL"
tessera snapshot delete vol0@first --pool "$POOL" >/dev/null || fail "snapshot delete failed"
[ "$(tessera snapshot list vol0 --pool "$POOL" --json | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ] ||
  fail "the deleted snapshot is still listed"
pool_check
