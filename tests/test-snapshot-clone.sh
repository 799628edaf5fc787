#!/usr/bin/env bash
# Clones through the CLI with a running server: write pattern A, snapshot,
# write B to the origin, clone the snapshot. The clone reads A; writes and
# zeroes on either side never show on the other, also after a restart. The
# snapshot and its volume cannot be deleted while the clone depends on them
# (the error names the clone). `volume flatten` (online, then offline for a
# second clone) copies what the clone reads from its origin, after which the
# snapshot can go and the clone still reads the same. A snapshot taken right
# after a client disconnects (its writes still being flushed by the server)
# holds them all.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd qemu-io
make_tmpdir

new_pool 1 512M
new_volume vol0 32M
new_volume vol1 48M
start_server "$POOL"

# nbdcopy does not flush: when it exits, the server is still writing its data
# back while the snapshot is taken.
random_file "$T/data1.bin" $((48 << 20))
nbdcopy "$T/data1.bin" "$(nbd_uri vol1)" || fail "nbdcopy to vol1 failed"
tessera snapshot create vol1@now --pool "$POOL" >/dev/null || fail "snapshot create vol1@now failed"
tessera clone vol1@now clone1now --pool "$POOL" >/dev/null || fail "clone of vol1@now failed"
check_vol1_clone() {
  nbdcopy "$(nbd_uri clone1now)" "$T/got1.bin" || fail "reading clone1now failed"
  cmp "$T/data1.bin" "$T/got1.bin" || fail "$1: the clone of a snapshot taken right after nbdcopy lacks its data"
}
check_vol1_clone "online"

MIB=$((1 << 20))
"$PYTHON" - "$SOCK" <<'PY' || fail "writing pattern A failed"
import sys
from nbd_helpers import connect
h = connect(sys.argv[1], "vol0")
h.pwrite(b"A" * (4 << 20), 0); h.flush()
PY
tessera snapshot create vol0@base --pool "$POOL" >/dev/null || fail "snapshot create failed"
out=$(tessera clone vol0@base clone0 --pool "$POOL" 2>&1) || fail "tessera clone failed: $out"
expect_match "clone output" "created clone clone0 of vol0@base" "$out"
expect_match "volume info shows the origin" "origin: +vol0@base" "$(tessera volume info clone0 --pool "$POOL")"
nbdinfo --list "nbd+unix:///?socket=$SOCK" | grep -q 'export="clone0"' || fail "the export list does not show clone0"

# Origin: B over the first MiB. Clone: C over the second, zeroes over the third.
"$PYTHON" - "$SOCK" <<'PY' || fail "writing to the origin and the clone failed"
import sys
from nbd_helpers import connect
o = connect(sys.argv[1], "vol0")
c = connect(sys.argv[1], "clone0")
assert c.pread(4 << 20, 0) == b"A" * (4 << 20), "the new clone does not read the snapshot"
o.pwrite(b"B" * (1 << 20), 0); o.flush()
c.pwrite(b"C" * (1 << 20), 1 << 20); c.zero(1 << 20, 2 << 20); c.flush()
PY

check_contents() {
  # qemu-io checks patterns: A = 0x41, B = 0x42, C = 0x43.
  qemu-io -r -f raw "$(nbd_uri vol0)" -c "read -P 0x42 0 1M" -c "read -P 0x41 1M 3M" >"$T/qio.out" 2>&1 ||
    fail "vol0 changed through its clone: $(cat "$T/qio.out")"
  qemu-io -r -f raw "$(nbd_uri clone0)" -c "read -P 0x41 0 1M" -c "read -P 0x43 1M 1M" \
    -c "read -P 0 2M 1M" -c "read -P 0x41 3M 1M" -c "read -P 0 4M 28M" >"$T/qio.out" 2>&1 ||
    fail "clone0 reads the wrong data: $(cat "$T/qio.out")"
  qemu-io -r -f raw "$(nbd_uri vol0@base)" -c "read -P 0x41 0 4M" >"$T/qio.out" 2>&1 ||
    fail "the snapshot changed: $(cat "$T/qio.out")"
}
check_contents

expect_fail "deleting the origin snapshot" tessera snapshot delete vol0@base --pool "$POOL"
expect_match "the error names the clone" "clone0" "$EXPECT_OUT"
expect_fail "deleting the origin volume" tessera volume delete vol0 --pool "$POOL"
expect_match "the error names the clone" "clone0" "$EXPECT_OUT"
expect_fail "cloning onto an existing volume" tessera clone vol0@base vol0 --pool "$POOL"
expect_fail "cloning a missing snapshot" tessera clone vol0@nope clone9 --pool "$POOL"
expect_fail "a target without a snapshot" tessera clone vol0 clone9 --pool "$POOL"
expect_fail "flattening a volume that is no clone" tessera volume flatten vol0 --pool "$POOL"
expect_match "the error says why" "not a clone" "$EXPECT_OUT"

stop_server
start_server "$POOL"
check_contents
check_vol1_clone "after a restart"

# Online flatten, with progress.
out=$(tessera volume flatten clone0 --pool "$POOL" 2>&1) || fail "volume flatten failed: $out"
expect_match "flatten progress" "flattening clone0: .*%" "$out"
expect_match "flatten result" "flattened volume clone0" "$out"
expect_match "no origin after flatten" "origin: +-" "$(tessera volume info clone0 --pool "$POOL")"
tessera snapshot delete vol0@base --pool "$POOL" >/dev/null || fail "deleting the snapshot after flatten failed"
check_contents_flat() {
  qemu-io -r -f raw "$(nbd_uri clone0)" -c "read -P 0x41 0 1M" -c "read -P 0x43 1M 1M" \
    -c "read -P 0 2M 1M" -c "read -P 0x41 3M 1M" -c "read -P 0 4M 28M" >"$T/qio.out" 2>&1 ||
    fail "clone0 reads the wrong data after flatten: $(cat "$T/qio.out")"
}
check_contents_flat
stop_server

# Offline: a second clone, flattened without a server.
tessera snapshot create vol0@two --pool "$POOL" >/dev/null || fail "snapshot create (offline) failed"
tessera clone vol0@two clone1 --pool "$POOL" >/dev/null || fail "clone (offline) failed"
out=$(tessera volume flatten clone1 --pool "$POOL" 2>&1) || fail "offline flatten failed: $out"
expect_match "offline flatten result" "flattened volume clone1" "$out"
tessera snapshot delete vol0@two --pool "$POOL" >/dev/null || fail "deleting the snapshot after offline flatten failed"
tessera volume delete vol0 --pool "$POOL" >/dev/null || fail "deleting the origin after flatten failed"
start_server "$POOL"
check_contents_flat
qemu-io -r -f raw "$(nbd_uri clone1)" -c "read -P 0x42 0 1M" -c "read -P 0x41 1M 3M" -c "read -P 0 4M 28M" \
  >"$T/qio.out" 2>&1 || fail "clone1 reads the wrong data: $(cat "$T/qio.out")"
stop_server
tessera clone --help | grep -q "VOLUME@SNAPSHOT" || fail "tessera clone --help"
tessera volume flatten --help | grep -q "origin" || fail "tessera volume flatten --help"
pool_check
log "ok"
