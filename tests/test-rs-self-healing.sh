#!/usr/bin/env bash
# An rs:4+2 volume over 6 file vdevs (plus one metadata vdev) under fio
# verify=crc32c through NBD, with a running server (the CLI goes through its
# control socket):
#  (b) bytes corrupted in chunks on 2 devices: reads verify, the repairs are
#      counted (vdev checksum errors), a scrub rewrites what reads did not
#      touch (parity) and a second scrub finds nothing;
#  (a) 2 devices lost: one taken offline while fio writes, one whose file
#      is deleted before a restart (the pool opens degraded): no client
#      error, verify passes, pool status shows the degradation;
#  (c) a third device fails: reads get EIO, and every read that succeeds
#      returns the right data;
#  (d) vdev replace of both lost devices: the pool is healthy again, a
#      scrub finds nothing to repair, and the data verifies.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd fio
make_tmpdir

POOL=$T/pool
vdev_args=(--vdev tier=fastest,path=meta.img,size=128M,name=meta)
for i in 0 1 2 3 4 5; do vdev_args+=(--vdev "tier=slow,path=d$i.img,size=96M,name=d$i"); done
tessera pool create --pool "$POOL" "${vdev_args[@]}" >"$T/pool-create.out" 2>&1 ||
  fail "pool create failed: $(cat "$T/pool-create.out")"
new_volume vol 64M rs:4+2

# Region A [0, 24M): fio's; region B [24M, 32M): known bytes ($T/ref).
fio_run() {
  fio --name=rs --ioengine=nbd --uri="$(nbd_uri vol)" --rw=randwrite --bssplit=4k/50:64k/30:256k/20 \
    --size=24M --iodepth=16 --verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=1 \
    --output="$T/fio.out" "$@" >"$T/fio.log" 2>&1
}
fio_ok() { fio_run "$@" && grep -q 'err= 0' "$T/fio.out"; }
region_b_ok() {
  "$PYTHON" - "$(nbd_uri vol)" "$T/ref" <<'EOF'
import sys
from nbd_helpers import connect_uri
h = connect_uri(sys.argv[1])
ref = open(sys.argv[2], "rb").read()
got = h.pread(len(ref), 24 << 20)
sys.exit(0 if got == ref else 1)
EOF
}
json_field() { "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# flip_chunks FILE: corrupts one data byte in each of the first 24 chunks
# of the vdev's first row block (chunks of 68 KiB from block 3 on).
flip_chunks() {
  "$PYTHON" - "$1" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    for k in range(24):
        at = 3 * 4096 + k * 69632 + 4096 + 777
        f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 0x5a]))
EOF
}

log "bad input changes nothing"
cp "$POOL/pool.conf" "$T/pool.conf.before"
expect_fail "vdev offline of an unknown vdev" tessera vdev offline nope --pool "$POOL"
expect_match "vdev offline nope" "no vdev 'nope'" "$EXPECT_OUT"
expect_fail "vdev replace onto an existing file" tessera vdev replace d0 d1.img --pool "$POOL"
expect_fail "volume inspect without a name" tessera volume inspect --pool "$POOL"
expect_fail "volume inspect --quick --full" tessera volume inspect vol --quick --full --pool "$POOL"
cmp -s "$POOL/pool.conf" "$T/pool.conf.before" || fail "a refused command changed pool.conf"
expect_match "inspect of the new volume" 'volume is clean' "$(tessera volume inspect vol --quick --pool "$POOL")"

start_server "$POOL"
random_file "$T/ref" $((8 << 20))
"$PYTHON" - "$(nbd_uri vol)" "$T/ref" <<'EOF' || fail "writing region B failed"
import sys
from nbd_helpers import connect_uri
h = connect_uri(sys.argv[1])
h.pwrite(open(sys.argv[2], "rb").read(), 24 << 20); h.flush()
EOF
log "healthy: fio write + verify"
fio_ok || fail "fio on the healthy volume failed: $(tail -n 20 "$T/fio.out")"
region_b_ok || fail "region B differs on the healthy volume"
stop_server

log "(b) corrupt chunks on d0 and d3"
flip_chunks "$POOL/d0.img"
flip_chunks "$POOL/d3.img"
start_server "$POOL"
fio_ok --verify_only=1 || fail "(b) fio verify over corrupt chunks failed: $(tail -n 20 "$T/fio.out")"
region_b_ok || fail "(b) region B differs over corrupt chunks"
vdevs=$(tessera vdev list --pool "$POOL" --json)
for d in d0 d3; do
  n=$(json_field "[v['checksum_errors'] for v in d if v['name'] == '$d'][0]" <<<"$vdevs")
  [ "$n" -gt 0 ] || fail "(b) no checksum errors counted on $d: $vdevs"
done
scrub=$(tessera pool scrub --pool "$POOL" --json 2>"$T/scrub.progress") || fail "(b) scrub failed: $scrub"
grep -q 'stripes of vol' "$T/scrub.progress" || fail "(b) scrub showed no progress"
[ "$(json_field "d['unrecoverable']" <<<"$scrub")" = 0 ] || fail "(b) scrub found unrecoverable data: $scrub"
log "  scrub after reads: repaired $(json_field "d['repaired']" <<<"$scrub") chunks"
scrub=$(tessera pool scrub --pool "$POOL" --json 2>/dev/null) || fail "(b) second scrub is not clean: $scrub"
[ "$(json_field "d['repaired']" <<<"$scrub")" = 0 ] || fail "(b) second scrub still repaired: $scrub"

log "(a) d1 offline while fio writes"
fio_run &
FIO_PID=$!
on_exit "kill_started $FIO_PID"
sleep 1
tessera vdev offline d1 --pool "$POOL" >"$T/offline.out" 2>&1 || fail "vdev offline d1: $(cat "$T/offline.out")"
wait "$FIO_PID" || fail "(a) fio failed with d1 going offline: $(tail -n 20 "$T/fio.out")"
grep -q 'err= 0' "$T/fio.out" || fail "(a) fio reported errors: $(tail -n 20 "$T/fio.out")"
stop_server
grep -q 'state = offline' "$POOL/pool.conf" || fail "(a) the offline state did not persist in pool.conf"
log "(a) d4's file deleted; restart degraded"
rm "$POOL/d4.img"
start_server "$POOL"
fio_ok --verify_only=1 || fail "(a) fio verify with 2 vdevs lost failed: $(tail -n 20 "$T/fio.out")"
region_b_ok || fail "(a) region B differs with 2 vdevs lost"
status=$(tessera pool status --pool "$POOL")
expect_match "(a) pool status" 'health: +degraded' "$status"
expect_match "(a) pool status" 'd1 +slow.*offline' "$status"
expect_match "(a) pool status" 'd4 +slow.*missing' "$status"
expect_match "(a) pool status" 'vol +degraded' "$status"

log "(c) a third device (d2) offline: EIO, never wrong data"
tessera vdev offline d2 --pool "$POOL" >/dev/null 2>&1 || fail "vdev offline d2 failed"
"$PYTHON" - "$(nbd_uri vol)" "$T/ref" <<'EOF' || fail "(c) a read returned wrong data or no read failed"
import errno, nbd, sys
from nbd_helpers import connect_uri
h = connect_uri(sys.argv[1])
ref = open(sys.argv[2], "rb").read()
eio = good = 0
for at in range(0, len(ref), 64 << 10):
    try:
        got = h.pread(64 << 10, (24 << 20) + at)
    except nbd.Error as e:
        if e.errnum != errno.EIO: sys.exit(f"unexpected error {e}")
        eio += 1
        continue
    if got != ref[at:at + (64 << 10)]: sys.exit(f"wrong data at {at}")
    good += 1
print(f"{eio} reads failed with EIO, {good} returned the right data")
sys.exit(0 if eio > 0 else 1)
EOF
if fio_ok --verify_only=1; then fail "(c) fio verify passed with 3 of 6 devices gone"; fi
grep -Eqi 'crc32c|verify.*(bad|fail)' "$T/fio.out" "$T/fio.log" && fail "(c) fio saw wrong data: $(grep -Ei 'crc|verify' "$T/fio.out" | head -n 5)"
# The server stops while 3 of 6 devices are out (its close cannot flush) and
# restarts with d2 back, still degraded (d1 offline, d4 missing).
stop_server
tessera vdev online d2 --pool "$POOL" >/dev/null 2>&1 || fail "vdev online d2 failed"
start_server "$POOL"

log "(d) replace d4 and d1"
tessera vdev replace d4 d4new.img --pool "$POOL" >"$T/replace.out" 2>&1 || fail "replace d4: $(cat "$T/replace.out")"
expect_match "(d) replace d4" 'rebuilt chunks: +[1-9]' "$(cat "$T/replace.out")"
tessera vdev replace d1 "$T/d1new.img" --pool "$POOL" >"$T/replace.out" 2>&1 || fail "replace d1: $(cat "$T/replace.out")"
status=$(tessera pool status --pool "$POOL")
expect_match "(d) pool status" 'health: +online' "$status"
scrub=$(tessera pool scrub --pool "$POOL" --json 2>/dev/null) || fail "(d) scrub after replace is not clean: $scrub"
[ "$(json_field "d['repaired']" <<<"$scrub")" = 0 ] || fail "(d) scrub after replace repaired: $scrub"
fio_ok --verify_only=1 || fail "(d) fio verify after replace failed: $(tail -n 20 "$T/fio.out")"
region_b_ok || fail "(d) region B differs after replace"
stop_server
log "restart after replace: healthy, data verifies"
start_server "$POOL"
expect_match "(d) pool status after restart" 'health: +online' "$(tessera pool status --pool "$POOL")"
fio_ok --verify_only=1 || fail "(d) fio verify after restart failed: $(tail -n 20 "$T/fio.out")"
stop_server
pool_check
