#!/usr/bin/env bash
# The server opens no path a client names (dispatch.h contract 4): `tessera
# diff --stream` and `tessera apply` open their files themselves and pass a
# descriptor. A FIFO without a reader fails at once; a FIFO with one, and
# /proc/self/fd/N, work; a symlink to a vdev file and pool.conf are refused
# and left unchanged; apply reads from a FIFO and from stdin. Meanwhile, and
# after each, the server answers `nbdinfo --list` and a new connection.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd nbdinfo
make_tmpdir

new_pool 1 512M
new_volume vol0 32M
new_volume copy1 32M
new_volume copy2 32M
start_server "$POOL"
"$NBDSH" -u "$(nbd_uri vol0)" -c 'import os; h.pwrite(os.urandom(1 << 20), 4096); h.flush()' ||
  fail "writing vol0 failed"
tessera snapshot create vol0@a --pool "$POOL" >/dev/null || fail "snapshot create failed"

alive() {
  timeout 10 nbdinfo --list "nbd+unix:///?socket=$SOCK" >/dev/null ||
    fail "the server did not answer nbdinfo --list within 10 s ($1)"
  [ "$(timeout 10 nbdinfo --size "$(nbd_uri vol0)")" = $((32 << 20)) ] ||
    fail "a new connection was not served within 10 s ($1)"
}

log "a FIFO without a reader fails at once"
mkfifo "$T/fifo"
expect_fail "diff --stream to a FIFO nobody reads" \
  timeout 20 "$TESSERA_BIN" diff vol0@a --stream "$T/fifo" --pool "$POOL"
[ "$EXPECT_STATUS" -ne 124 ] || fail "diff --stream to a FIFO without a reader hung"
expect_match "the refusal" "FIFO nobody reads" "$EXPECT_OUT"
alive "after the FIFO without a reader"

log "a FIFO with a reader gets the stream"
cat "$T/fifo" >"$T/via-fifo.tds" &
reader=$!
on_exit "kill_started $reader"
timeout 60 "$TESSERA_BIN" diff vol0@a --stream "$T/fifo" --pool "$POOL" >"$T/fifo.out" 2>&1 ||
  fail "diff --stream into a FIFO with a reader failed: $(cat "$T/fifo.out")"
wait "$reader" || fail "the FIFO's reader failed"
head -c 8 "$T/via-fifo.tds" | grep -q TSRADIF1 || fail "the FIFO carried no stream"
alive "after the FIFO with a reader"

log "/proc/self/fd/N is the client's own descriptor"
timeout 60 "$TESSERA_BIN" diff vol0@a --stream /proc/self/fd/7 --pool "$POOL" 7>"$T/via-fd.tds" >"$T/fd.out" 2>&1 ||
  fail "diff --stream /proc/self/fd/7 failed: $(cat "$T/fd.out")"
cmp -s "$T/via-fd.tds" "$T/via-fifo.tds" || fail "the stream through /proc/self/fd/7 differs"

log "a symlink to a vdev file, and pool.conf, are refused and unchanged"
vdev=$(ls "$POOL"/*.img | head -n 1)
ln -s "$vdev" "$T/link-to-vdev"
before=$(stat -c %s "$vdev")
sum_conf=$(sha256sum <"$POOL/pool.conf")
expect_fail "diff --stream into a symlink to a vdev" \
  timeout 60 "$TESSERA_BIN" diff vol0@a --stream "$T/link-to-vdev" --pool "$POOL"
expect_match "the refusal" "vdev .* of this pool" "$EXPECT_OUT"
expect_fail "diff --stream into pool.conf" \
  timeout 60 "$TESSERA_BIN" diff vol0@a --stream "$POOL/pool.conf" --pool "$POOL"
expect_match "the refusal" "a file of this pool" "$EXPECT_OUT"
[ "$(stat -c %s "$vdev")" = "$before" ] || fail "the vdev file changed size"
[ "$(sha256sum <"$POOL/pool.conf")" = "$sum_conf" ] || fail "pool.conf changed"
expect_fail "apply from a symlink to a vdev" \
  timeout 60 "$TESSERA_BIN" apply copy1 "$T/link-to-vdev" --pool "$POOL"
alive "after the refusals"

log "apply reads a FIFO and stdin"
cat "$T/via-fifo.tds" >"$T/fifo" &
writer=$!
on_exit "kill_started $writer"
timeout 60 "$TESSERA_BIN" apply copy1 "$T/fifo" --pool "$POOL" >"$T/apply1.out" 2>&1 ||
  fail "apply from a FIFO failed: $(cat "$T/apply1.out")"
wait "$writer" || true
timeout 60 "$TESSERA_BIN" apply copy2 - --pool "$POOL" <"$T/via-fd.tds" >"$T/apply2.out" 2>&1 ||
  fail "apply from stdin failed: $(cat "$T/apply2.out")"
for copy in copy1 copy2; do
  "$PYTHON" - "$SOCK" "$copy" <<'PY' || fail "$copy does not equal vol0@a"
import sys
from nbd_helpers import connect
a = connect(sys.argv[1], "vol0@a")
b = connect(sys.argv[1], sys.argv[2])
assert a.pread(2 << 20, 0) == b.pread(2 << 20, 0)
PY
done
ls -A "$POOL" | grep -q '^\.stream-' && fail "a temporary stream file was left in the pool directory"
alive "at the end"
stop_server
pool_check
log "passed"
