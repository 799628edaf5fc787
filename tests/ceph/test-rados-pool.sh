#!/usr/bin/env bash
# A pool whose data tier is RADOS, on a real single-node Ceph cluster that
# this test starts (scripts/ceph-cluster.sh) in its own directory and stops.
# Run by scripts/test-ceph.sh, not by scripts/test.sh: Ceph's packages and
# start-up do not fit CI (see docs/admin-guide.md, "Multi-host pools").
#  (a) the RadosVdev unit tests against the cluster (none skipped);
#  (b) pool create: metadata on two local files, data on six rados vdevs
#      (one RADOS object prefix each) of an rs:4+2 volume;
#  (c) fio writes and verifies the volume through the server; the data is
#      in RADOS objects of every vdev;
#  (d) the server restarts and fio verifies again; a scrub repairs nothing
#      and the pool checks clean;
#  (e) the OSD stops while the server serves: a read that misses the cache
#      fails with EIO within the vdevs' timeout instead of hanging, and the
#      next fails at once while the vdevs back off (contract 5a); the
#      server is killed, and once the OSD is back the pool reopens and its
#      data verifies.
source "$(dirname "$0")/../functions.sh"
require_build
require_cmd fio ceph rados
make_tmpdir
CLUSTER=$TESSERA_SRC/scripts/ceph-cluster.sh
json_field() { "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

SECONDS_START=$SECONDS
on_exit "'$CLUSTER' stop '$T/ceph' >/dev/null 2>&1 || true"
"$CLUSTER" start "$T/ceph" --pool tessera --no-mgr >"$T/ceph-start.out" 2>&1 ||
  fail "the Ceph cluster did not start: $(tail -n 20 "$T/ceph-start.out")"
CEPH_CONF_FILE=$(sed -n 's/^CEPH_CONF=//p' "$T/ceph-start.out" | tail -n 1)
[ -f "$CEPH_CONF_FILE" ] || fail "ceph-cluster.sh printed no CEPH_CONF: $(cat "$T/ceph-start.out")"
log "cluster up in $((SECONDS - SECONDS_START)) s"

log "(a) unit tests against the cluster"
TESSERA_CEPH_CONF=$CEPH_CONF_FILE TESSERA_CEPH_POOL=tessera timeout 600 \
  "$BUILD_DIR/tests/pool_test" --gtest_filter='Rados*' >"$T/unit.out" 2>&1 ||
  fail "(a) RadosVdev unit tests failed: $(grep -E 'FAILED|Failure|error' "$T/unit.out" | head -n 20)"
grep -q 'SKIPPED' "$T/unit.out" && fail "(a) unit tests were skipped: $(grep SKIPPED "$T/unit.out")"
log "  $(grep -E '^\[  PASSED  \]' "$T/unit.out")"

log "(b) pool create: metadata on files, data on 6 rados vdevs"
POOL=$T/pool
vdev_args=()
for i in 0 1; do vdev_args+=(--vdev "tier=fastest,path=meta$i.img,size=64M,name=meta$i"); done
for i in 0 1 2 3 4 5; do
  vdev_args+=(--vdev "kind=rados,uri=rados://tessera/d$i,size=128M,conf=$CEPH_CONF_FILE,tier=slow,host=h$i,name=d$i,timeout=8")
done
tessera pool create --pool "$POOL" "${vdev_args[@]}" >"$T/pool-create.out" 2>&1 ||
  fail "(b) pool create failed: $(cat "$T/pool-create.out")"
grep -q "^uri = rados://tessera/d3\$" "$POOL/pool.conf" || fail "(b) pool.conf lacks d3's uri: $(cat "$POOL/pool.conf")"
expect_fail "(b) a second pool create on the same objects" \
  tessera pool create --pool "$T/pool2" --vdev "kind=rados,uri=rados://tessera/d0,size=128M,conf=$CEPH_CONF_FILE,name=x"
expect_match "(b) second create" "already holds the label of vdev 'd0'" "$EXPECT_OUT"
tessera volume create vol --pool "$POOL" --size 96M --layout rs:4+2 --tier slow --spread host \
  >"$T/volume-create.out" 2>&1 || fail "(b) volume create failed: $(cat "$T/volume-create.out")"

log "(c) fio write + verify through the server"
start_server "$POOL"
t0=$SECONDS
fio_verify_served vol || fail "(c) fio verify failed"
log "  4 x 16 MiB written and verified in $((SECONDS - t0)) s: $(grep -Eo '(READ|WRITE): bw=[^ ]+' "$T/fio-vol.out" | tr '\n' ' ')"
stop_server
for i in 0 1 2 3 4 5; do
  n=$(timeout 60 rados -c "$CEPH_CONF_FILE" -p tessera ls | grep -c "^d$i\." || true)
  [ "$n" -gt 0 ] || fail "(c) no RADOS object of vdev d$i"
done
log "  RADOS pool holds $(timeout 60 rados -c "$CEPH_CONF_FILE" -p tessera ls | wc -l) objects"

log "(d) restart: verify again, scrub, check"
start_server "$POOL"
fio_verify_served vol --verify_only=1 || fail "(d) fio verify-only after the restart failed"
stop_server
scrub=$(tessera pool scrub --pool "$POOL" --json 2>/dev/null) || fail "(d) scrub failed: $scrub"
[ "$(json_field "d['repaired']" <<<"$scrub")" = 0 ] || fail "(d) scrub repaired something: $scrub"
[ "$(json_field "d['unrecoverable']" <<<"$scrub")" = 0 ] || fail "(d) scrub found unrecoverable data: $scrub"
pool_check

log "(e) the OSD stops while the server serves"
start_server "$POOL"
set +e
timeout 180 "$PYTHON" - "$(nbd_uri vol)" "$CLUSTER" "$T/ceph" >"$T/eio.out" 2>&1 <<'PY'
import errno, subprocess, sys, time, nbd
h = nbd.NBD()
h.connect_uri(sys.argv[1])
subprocess.run([sys.argv[2], "stop-osd", sys.argv[3]], check=True)
# Written by fio, not yet read by this server: these reads reach RADOS.
# The second finds every vdev backing off (rados_vdev.h contract 5a).
for offset in (0, 4 << 20):
    start = time.monotonic()
    try:
        h.pread(1 << 20, offset)
        print("read at %d succeeded" % offset)
        sys.exit(1)
    except nbd.Error as e:
        print("read at %d failed after %.1f s: %s" % (offset, time.monotonic() - start, e.string))
        if e.errnum != errno.EIO:
            sys.exit(2)
PY
rc=$?
set -e
[ "$rc" = 0 ] || fail "(e) a read with the OSD down did not fail with EIO (rc $rc): $(cat "$T/eio.out")"
log "  $(grep 'failed after' "$T/eio.out" | tr '\n' ';')"
grep -q "the Ceph cluster is not answering" "$T/server.log" ||
  fail "(e) no request failed at once while the cluster was away: $(tail -n 5 "$T/server.log")"
# Every data vdev failed at once, beyond what rs:4+2 takes: the server's
# database stops at its next commit, and the pool must be reopened.
crash_server
"$CLUSTER" start-osd "$T/ceph" >"$T/osd-start.out" 2>&1 || fail "(e) cannot restart the OSD: $(cat "$T/osd-start.out")"
start_server "$POOL"
fio_verify_served vol --verify_only=1 || fail "(e) the data did not verify after the OSD came back"
stop_server
pool_check
log "total $((SECONDS - SECONDS_START)) s"
