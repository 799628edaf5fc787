#!/usr/bin/env bash
# Diff and diff streams through the CLI and a running server: write,
# snapshot, write and trim, snapshot; `diff --json` lists exactly the changed
# ranges; a full stream of the first snapshot and an incremental stream to
# the second, applied to another volume, reproduce the second snapshot
# (qemu-img compare of the exports); a corrupted stream and a stream at the
# wrong base are refused and change nothing.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd qemu-img
make_tmpdir

new_pool 1 512M
new_volume vol0 64M
new_volume copy 64M
start_server "$POOL"
MiB=1048576

# Pattern A: 0-4 MiB and 16-18 MiB. Then B: 1-2 MiB written, 17-18 MiB
# trimmed, 40 MiB + 4 KiB written.
"$PYTHON" - "$SOCK" <<'PY' || fail "writing pattern A failed"
import os, sys
from nbd_helpers import connect
h = connect(sys.argv[1], "vol0")
h.pwrite(os.urandom(4 << 20), 0)
h.pwrite(os.urandom(2 << 20), 16 << 20)
PY
tessera snapshot create vol0@a --pool "$POOL" >/dev/null || fail "snapshot create vol0@a failed"
"$PYTHON" - "$SOCK" <<'PY' || fail "writing pattern B failed"
import os, sys
from nbd_helpers import connect
h = connect(sys.argv[1], "vol0")
h.pwrite(os.urandom(1 << 20), 1 << 20)
h.trim(1 << 20, 17 << 20)
h.pwrite(os.urandom(4096), 40 << 20)
h.flush()
PY
tessera snapshot create vol0@b --pool "$POOL" >/dev/null || fail "snapshot create vol0@b failed"

# The diff lists exactly the changed ranges, merged.
tessera diff vol0@a vol0@b --json --pool "$POOL" >"$T/diff.json" || fail "tessera diff failed"
"$PYTHON" - "$T/diff.json" <<'PY' || fail "diff --json does not match the writes: $(cat "$T/diff.json")"
import json, sys
d = json.load(open(sys.argv[1]))
MiB = 1 << 20
got = [(r["offset"], r["length"], r["zero"]) for r in d["ranges"]]
want = [(1 * MiB, MiB, False), (17 * MiB, MiB, True), (40 * MiB, 4096, False)]
assert got == want, f"ranges {got}, expected {want}"
assert d["changed_bytes"] == 2 * MiB + 4096, d
assert d["from"] == "a" and d["to"] == "b" and d["size"] == 64 * MiB, d
PY
out=$(tessera diff vol0@a --pool "$POOL") || fail "tessera diff against the live volume failed"
expect_match "diff against the live volume" "3 ranges, .* changed from vol0@a to vol0" "$out"
expect_match "diff table" "17825792 +1048576 +18874368 +zeroed" "$out"

# Streams: a full one of @a to a file, an incremental one @a -> @b to stdout.
tessera diff vol0@a --stream "$T/full.tds" --pool "$POOL" >"$T/full.out" || fail "full stream failed"
tessera diff vol0@a vol0@b --stream - --pool "$POOL" >"$T/inc.tds" 2>"$T/inc.err" ||
  fail "incremental stream failed: $(cat "$T/inc.err")"
head -c 8 "$T/inc.tds" | grep -q TSRADIF1 || fail "the stream on stdout has no header"
ls -A "$POOL" | grep -q "^\.stream-" && fail "the temporary stream file was left in the pool directory"

expect_fail "an incremental stream before its base" tessera apply copy "$T/inc.tds" --pool "$POOL"
expect_match "wrong base error" "not at the stream's base" "$EXPECT_OUT"
tessera apply copy "$T/full.tds" --pool "$POOL" >"$T/apply-full.out" 2>&1 ||
  fail "applying the full stream failed: $(cat "$T/apply-full.out")"
expect_match "apply progress" "verifying .*: 100%" "$(cat "$T/apply-full.out")"

# A corrupted stream (one bit in the data of a record) is refused whole.
cp "$T/inc.tds" "$T/bad.tds"
"$PYTHON" - "$T/bad.tds" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1024 + 32 + 5000); b = f.read(1); f.seek(-1, 1); f.write(bytes([b[0] ^ 4]))
PY
expect_fail "a corrupted stream" tessera apply copy "$T/bad.tds" --pool "$POOL"
expect_match "corruption error" "checksum mismatch" "$EXPECT_OUT"
tessera snapshot list copy --json --pool "$POOL" | "$PYTHON" -c '
import json, sys; names = [s["name"] for s in json.load(sys.stdin)]
assert names == ["a"], names' || fail "the corrupted stream changed the copy's snapshots"
out=$(tessera diff copy@a --pool "$POOL") || fail "diff of the copy failed"
expect_match "the copy after a refused stream" "^0 ranges" "$out"

tessera apply copy "$T/inc.tds" --pool "$POOL" >"$T/apply-inc.out" 2>&1 ||
  fail "applying the incremental stream failed: $(cat "$T/apply-inc.out")"
qemu-img compare -f raw -F raw "$(nbd_uri vol0@b)" "$(nbd_uri copy)" >"$T/compare.out" 2>&1 ||
  fail "the copy differs from vol0@b: $(cat "$T/compare.out")"
qemu-img compare -f raw -F raw "$(nbd_uri vol0@a)" "$(nbd_uri copy@a)" >"$T/compare.out" 2>&1 ||
  fail "copy@a differs from vol0@a: $(cat "$T/compare.out")"

# Space: the snapshots show referenced and unique bytes; the pool shows
# what they pin.
tessera snapshot list vol0 --json --pool "$POOL" | "$PYTHON" -c '
import json, sys; s = json.load(sys.stdin)
assert [x["name"] for x in s] == ["a", "b"], s
assert all(x["referenced_bytes"] >= 5 << 20 for x in s), s
assert all("unique_bytes" in x and x["guid"] != 0 for x in s), s' || fail "snapshot list lacks space columns"
tessera pool status --json --pool "$POOL" | "$PYTHON" -c '
import json, sys; s = json.load(sys.stdin); assert "dead_pinned_bytes" in s, s' ||
  fail "pool status lacks dead_pinned_bytes"

# Bad input: a usage error (exit 2) or a clear error, and nothing changes.
expect_status() {
  local want=$1 what=$2
  shift 2
  local status=0
  EXPECT_OUT=$("$@" 2>&1) || status=$?
  [ "$status" -eq "$want" ] || fail "$what: exit status $status, expected $want: $EXPECT_OUT"
}
expect_status 2 "diff of a volume without a snapshot" tessera diff vol0 --pool "$POOL"
expect_match "diff VOLUME" "is not VOLUME@SNAPSHOT" "$EXPECT_OUT"
expect_status 2 "diff across volumes" tessera diff vol0@a copy@a --pool "$POOL"
expect_match "diff across volumes" "same volume" "$EXPECT_OUT"
expect_status 2 "a stream to the live volume" tessera diff vol0@a vol0 --stream "$T/x.tds" --pool "$POOL"
[ ! -e "$T/x.tds" ] || fail "a refused stream left a file"
expect_status 3 "diff of an unknown snapshot" tessera diff vol0@nope --pool "$POOL"
expect_status 3 "apply of a missing file" tessera apply copy "$T/none.tds" --pool "$POOL"
expect_status 0 "diff --help" tessera diff --help
expect_match "diff --help" "--stream" "$EXPECT_OUT"
expect_status 0 "apply --help" tessera apply --help

stop_server
pool_check
