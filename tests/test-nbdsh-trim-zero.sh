#!/usr/bin/env bash
# nbdsh (libnbd): write, then trim and zero (aligned and unaligned; may-trim,
# no-hole, fast-zero, FUA), then read back -- zeros exactly where trimmed or
# zeroed -- and check base:allocation extents: trimmed ranges and the
# never-written tail are holes, no written data is reported as a hole or as
# zero. Checked again after a clean restart and after a kill -9.
source "$(dirname "$0")/functions.sh"
require_build
make_tmpdir

new_pool 1 256M
new_volume vol0 32M

log "a fresh volume is one hole"
captive "$POOL" "$NBDSH" --base-allocation -u 'nbd+unix:///vol0?socket=@SOCK@' -c '
n = [0]
def cb(ctx, off, entries, err):
    for i in range(0, len(entries), 2):
        if not entries[i + 1] & nbd.STATE_HOLE:
            raise SystemExit("fresh volume: extent at %d (+%d) is not a hole" % (off, entries[i]))
        off += entries[i]; n[0] += entries[i]
h.block_status(h.get_size(), 0, cb)
assert n[0] > 0, "no extents reported"
assert h.pread(65536, 12288) == bytes(65536), "a fresh volume does not read as zeros"
' || fail "a fresh volume is not reported as a hole, or does not read zeros"

log "write, trim, zero, read back, extents"
captive "$POOL" "$PYTHON" "$TESSERA_SRC/tests/trim_zero.py" write @SOCK@ vol0 || fail "write/trim/zero failed"
captive "$POOL" "$PYTHON" "$TESSERA_SRC/tests/trim_zero.py" check @SOCK@ vol0 ||
  fail "trim/zero results are wrong after a clean restart"

log "the same after kill -9 (everything was flushed)"
new_volume vol1 32M
start_server "$POOL" commit-interval=600000
"$PYTHON" "$TESSERA_SRC/tests/trim_zero.py" write "$SOCK" vol1 || fail "write/trim/zero failed on vol1"
"$PYTHON" "$TESSERA_SRC/tests/trim_zero.py" check "$SOCK" vol1 || fail "trim/zero results are wrong on vol1"
crash_server
start_server "$POOL"
"$PYTHON" "$TESSERA_SRC/tests/trim_zero.py" check "$SOCK" vol1 ||
  fail "trim/zero results are wrong after kill -9 and restart"
stop_server
pool_check
