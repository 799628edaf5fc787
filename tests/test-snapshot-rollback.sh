#!/usr/bin/env bash
# Rollback through the CLI with a running server: write pattern A, snapshot,
# write B. While a client has the volume open, `snapshot rollback` refuses
# and changes nothing; `--force` cuts the client off (its I/O fails with an
# error, and nothing it sends reaches the rolled-back volume) and restores A
# byte for byte, also after a restart. Without clients no force is needed. A
# snapshot with newer ones is refused, naming them.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd qemu-io
make_tmpdir

new_pool 1 512M
new_volume vol0 32M
start_server "$POOL"

# Pattern A: random data over the first 8 MiB (kept for comparison), and a
# 0x41 fill at 16 MiB.
random_file "$T/a.bin" $((8 << 20))
"$PYTHON" - "$SOCK" "$T/a.bin" <<'PY' || fail "writing pattern A failed"
import sys
from nbd_helpers import connect
h = connect(sys.argv[1], "vol0")
h.pwrite(open(sys.argv[2], "rb").read(), 0)
h.pwrite(b"A" * (1 << 20), 16 << 20)
h.flush()
PY
tessera snapshot create vol0@s1 --pool "$POOL" >/dev/null || fail "snapshot create failed"

# A writer that stays connected across both rollback attempts.
"$PYTHON" - "$SOCK" "$TESSERA_BIN" "$POOL" "$T/a.bin" >"$T/writer.out" 2>&1 <<'PY' || fail "connected writer: $(cat "$T/writer.out")"
import nbd, subprocess, sys
from nbd_helpers import connect
sock, tessera, pool, a_path = sys.argv[1:5]
h = connect(sock, "vol0")
h.pwrite(b"B" * (8 << 20), 0); h.flush()
h.pwrite(b"b" * (1 << 20), 16 << 20)          # acknowledged, not flushed
r = subprocess.run([tessera, "snapshot", "rollback", "vol0@s1", "--pool", pool], capture_output=True, text=True)
assert r.returncode != 0, "rollback succeeded while a writer was connected"
assert "open for writing" in r.stderr and "--force" in r.stderr, "unclear refusal: " + r.stderr
assert h.pread(1 << 20, 0) == b"B" * (1 << 20), "the refused rollback changed the volume"
r = subprocess.run([tessera, "snapshot", "rollback", "vol0@s1", "--force", "--pool", pool],
                   capture_output=True, text=True)
assert r.returncode == 0, "rollback --force failed: " + r.stderr
for what, op in (("read", lambda: h.pread(4096, 0)),
                 ("write", lambda: h.pwrite(b"X" * 4096, 0)),
                 ("flush", lambda: h.flush())):
    try:
        op()
        raise SystemExit(what + " on the cut-off connection succeeded")
    except nbd.Error as e:
        print(what, "refused:", e.string)
n = connect(sock, "vol0")
assert n.pread(8 << 20, 0) == open(a_path, "rb").read(), "the volume does not read pattern A after rollback"
PY
grep -q "write refused" "$T/writer.out" || fail "the cut-off writer's I/O was not refused: $(cat "$T/writer.out")"

check_a() {
  qemu-io -r -f raw "$(nbd_uri vol0)" -c "read -P 0x41 16M 1M" -c "read -P 0 17M 15M" >"$T/qio.out" 2>&1 ||
    fail "$1: vol0 is not pattern A: $(cat "$T/qio.out")"
  nbdcopy "$(nbd_uri vol0)" "$T/now.bin" || fail "nbdcopy failed"
  cmp -n $((8 << 20)) "$T/a.bin" "$T/now.bin" || fail "$1: vol0 differs from pattern A"
}
check_a "after rollback --force"
stop_server
start_server "$POOL"
check_a "after a restart"

# No client connected: no force needed.
qemu-io -f raw "$(nbd_uri vol0)" -c "write -P 0x44 0 4M" -c "flush" >/dev/null 2>&1 || fail "writing D failed"
out=$(tessera snapshot rollback vol0@s1 --pool "$POOL" 2>&1) || fail "rollback without clients failed: $out"
expect_match "rollback output" "rolled back volume vol0 to snapshot vol0@s1" "$out"
check_a "after a plain rollback"

# Newer snapshots: refused, naming them.
tessera snapshot create vol0@s2 --pool "$POOL" >/dev/null || fail "snapshot create s2 failed"
expect_fail "rolling back past a newer snapshot" tessera snapshot rollback vol0@s1 --pool "$POOL"
expect_match "the error names the newer snapshot" "vol0@s2" "$EXPECT_OUT"
expect_fail "rolling back to a missing snapshot" tessera snapshot rollback vol0@nope --pool "$POOL"
expect_fail "a target without a snapshot" tessera snapshot rollback vol0 --pool "$POOL"
stop_server

# Offline rollback.
tessera snapshot delete vol0@s2 --pool "$POOL" >/dev/null || fail "snapshot delete failed"
tessera snapshot rollback vol0@s1 --pool "$POOL" >/dev/null || fail "offline rollback failed"
tessera snapshot rollback --help | grep -q -- "--force" || fail "snapshot rollback --help"
pool_check
start_server "$POOL"
check_a "after an offline rollback"
stop_server
log "ok"
