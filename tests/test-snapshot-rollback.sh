#!/usr/bin/env bash
# Rollback through the CLI with a running server: write pattern A, snapshot,
# write B. While a client has the volume open, `snapshot rollback` refuses
# and changes nothing; `--force` cuts the client off (its I/O fails with an
# error, and nothing it sends reaches the rolled-back volume) and restores A
# byte for byte, also after a restart. Without clients no force is needed.
# Rolling back past newer snapshots keeps them readable (nbd exports of
# them compared), or with -r deletes them; bad targets are refused with a
# clear error and change nothing.
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

# Older snapshots: newer ones are kept and stay readable (rbd snap
# rollback); -r deletes them (zfs rollback -r).
tessera snapshot create vol0@s2 --pool "$POOL" >/dev/null || fail "snapshot create s2 failed"
qemu-io -f raw "$(nbd_uri vol0)" -c "write -P 0x45 0 2M" -c "write -P 0x46 20M 4M" -c "flush" >/dev/null 2>&1 ||
  fail "writing E failed"
tessera snapshot create vol0@s3 --pool "$POOL" >/dev/null || fail "snapshot create s3 failed"
qemu-io -f raw "$(nbd_uri vol0)" -c "write -P 0x47 0 6M" -c "flush" >/dev/null 2>&1 || fail "writing G failed"
check_s3() {
  qemu-io -r -f raw "$(nbd_uri vol0@s3)" -c "read -P 0x45 0 2M" -c "read -P 0x41 16M 1M" -c "read -P 0x46 20M 4M" \
    >"$T/qio.out" 2>&1 || fail "$1: vol0@s3 is not as taken: $(cat "$T/qio.out")"
  nbdcopy "$(nbd_uri vol0@s2)" "$T/s2.bin" || fail "nbdcopy of vol0@s2 failed"
  cmp -n $((8 << 20)) "$T/a.bin" "$T/s2.bin" || fail "$1: vol0@s2 differs from pattern A"
}
out=$(tessera snapshot rollback vol0@s1 --pool "$POOL" 2>&1) || fail "rollback to an older snapshot failed: $out"
expect_match "rollback output" "rolled back volume vol0 to snapshot vol0@s1" "$out"
check_a "after a rollback past newer snapshots"
check_s3 "after a rollback past it"
[ "$(tessera snapshot list vol0 --json --pool "$POOL" | "$PYTHON" -c '
import json, sys
s = json.load(sys.stdin)
assert all(x["unique_bytes"] == x["unique_data_bytes"] + x["unique_metadata_bytes"] for x in s), s
assert all(x["unique_metadata_bytes"] > 0 for x in s), s
print(" ".join(x["name"] for x in s))')" = "s1 s2 s3" ] || fail "the newer snapshots were not kept"
expect_match "snapshot list columns" "UNIQUE DATA +UNIQUE META" "$(tessera snapshot list vol0 --pool "$POOL")"
# Writing after it, then rolling back to the middle one.
qemu-io -f raw "$(nbd_uri vol0)" -c "write -P 0x48 4M 4M" -c "flush" >/dev/null 2>&1 || fail "writing H failed"
tessera snapshot rollback vol0@s2 --pool "$POOL" >/dev/null || fail "rollback to s2 failed"
check_a "after a rollback to the middle snapshot"
check_s3 "after a rollback to the middle snapshot"

# Bad input: a clear error, and nothing changes.
tessera clone vol0@s3 cl --pool "$POOL" >/dev/null || fail "clone failed"
expect_fail "rolling back to a missing snapshot" tessera snapshot rollback vol0@nope --pool "$POOL"
expect_match "the error names the snapshot" "vol0@nope" "$EXPECT_OUT"
expect_fail "a target without a snapshot" tessera snapshot rollback vol0 --pool "$POOL"
expect_match "the error asks for VOLUME@SNAPSHOT" "@" "$EXPECT_OUT"
expect_fail "an empty snapshot name" tessera snapshot rollback vol0@ --pool "$POOL"
expect_fail "a missing volume" tessera snapshot rollback ghost@s1 --pool "$POOL"
expect_match "the error names the volume" "ghost" "$EXPECT_OUT"
expect_fail "a clone's name with its origin's snapshot" tessera snapshot rollback cl@s1 --pool "$POOL"
expect_match "the error names the clone's snapshot" "cl@s1" "$EXPECT_OUT"
expect_fail "-r past a snapshot with clones" tessera snapshot rollback vol0@s1 -r --pool "$POOL"
expect_match "the error names the clone" "cl" "$EXPECT_OUT"
[ "$(tessera snapshot list vol0 --json --pool "$POOL" | "$PYTHON" -c '
import json, sys; print(" ".join(x["name"] for x in json.load(sys.stdin)))')" = "s1 s2 s3" ] ||
  fail "a refused rollback changed the snapshots"
check_a "after the refused rollbacks"
check_s3 "after the refused rollbacks"
stop_server
start_server "$POOL"
check_a "after a restart"
check_s3 "after a restart"

# -r deletes the newer ones.
tessera volume delete cl --pool "$POOL" >/dev/null || fail "deleting the clone failed"
tessera snapshot rollback vol0@s1 -r --pool "$POOL" >/dev/null || fail "rollback -r failed"
[ "$(tessera snapshot list vol0 --json --pool "$POOL" | "$PYTHON" -c '
import json, sys; print(" ".join(x["name"] for x in json.load(sys.stdin)))')" = "s1" ] ||
  fail "rollback -r did not delete the newer snapshots"
check_a "after rollback -r"
stop_server

# Offline rollback, past a newer snapshot.
tessera snapshot create vol0@s4 --pool "$POOL" >/dev/null || fail "snapshot create s4 failed"
tessera snapshot rollback vol0@s1 --pool "$POOL" >/dev/null || fail "offline rollback failed"
tessera snapshot rollback --help | grep -q -- "--force" || fail "snapshot rollback --help"
pool_check
for s in s4 s1; do tessera snapshot delete vol0@$s --pool "$POOL" >/dev/null || fail "deleting $s failed"; done
pool_check
start_server "$POOL"
check_a "after an offline rollback and deleting every snapshot"
stop_server
log "ok"
