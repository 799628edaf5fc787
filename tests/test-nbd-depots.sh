#!/usr/bin/env bash
# A pool whose data vdevs are 6 remote NBD depots (kind nbd: `nbdkit file`
# servers) and whose metadata is on 3 local files; an rs:4+2 volume under
# fio verify=crc32c through the pool's own NBD export:
#  (a) pool create takes each depot's size from its export and writes only
#      its uri to pool.conf; a second create on labelled depots is refused;
#  (b) healthy: fio write + verify;
#  (c) one depot's nbdkit killed while fio writes: no client error, and a
#      verify-only pass with the depot still gone passes; the next commit's
#      flush faults the vdev;
#  (c2) netns mode only: a second depot's link set down while fio writes:
#      no client error (its requests time out after 2 s), data verifies;
#  (c3) netns mode only: a third depot killed (and the server restarted, so
#      that its cache answers nothing): every 64 KiB read of the data fio
#      wrote fails with EIO or matches a copy taken before, and some fail;
#  (d) the depots come back: vdev online catches each up on the rows it
#      missed (some, for depot 2), a scrub then repairs nothing, data verifies,
#      and the pool reopens after a restart with every depot online; a
#      forking server (nbdkit --run) serves it too;
#  (e) netns mode only: a second host (its own namespace, linked to every
#      depot's, and another TESSERA_HOST_ID) is refused while the first
#      serves; after kill -9 of the first it takes the pool over (the
#      lease, in the metadata files both reach) and every block verifies.
#
# NBD_DEPOTS_MODE picks where the depots live:
#  unix   (the default) Unix sockets in $T;
#  netns  each depot in a network namespace of its own, on TCP over a veth
#         pair to the server's namespace, with 1 ms of latency per request
#         (nbdkit's delay filter); tests/test-nbd-depots-netns.sh. The
#         namespaces are removed at exit, also on failure.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd fio nbdkit
make_tmpdir

POOL=$T/pool
DEPOT_PIDS=()
MODE=${NBD_DEPOTS_MODE:-unix}
VDEV_TIMEOUT=
if [ "$MODE" = netns ]; then
  require_cmd ip
  [ "$(id -u)" = 0 ] || skip "network namespaces need root"
  NS=tsr$$
  NET=10.213.$(($$ % 250))
  SERVER_NETNS=${NS}s
  on_exit "ip netns del $SERVER_NETNS"
  ip netns add "$SERVER_NETNS" || skip "cannot create a network namespace"
  ip -n "$SERVER_NETNS" link set lo up
  # The CLI reaches the depots only from the server's namespace.
  tessera() { ip netns exec "$SERVER_NETNS" "$TESSERA_BIN" "$@"; }
  for i in 0 1 2 3 4 5; do
    on_exit "ip netns del ${NS}d$i"
    ip netns add "${NS}d$i"
    ip link add "${NS}a$i" netns "$SERVER_NETNS" type veth peer name "${NS}b$i" netns "${NS}d$i"
    ip -n "$SERVER_NETNS" addr add "$NET.$((4 * i + 1))/30" dev "${NS}a$i"
    ip -n "$SERVER_NETNS" link set "${NS}a$i" up
    ip -n "${NS}d$i" addr add "$NET.$((4 * i + 2))/30" dev "${NS}b$i"
    ip -n "${NS}d$i" link set "${NS}b$i" up
    ip -n "${NS}d$i" link set lo up
  done
  VDEV_TIMEOUT=,timeout=2
  # A second host for (e): its own namespace, with a link to each depot's,
  # over which it reaches the depot's address on the first link.
  HOST_B_NETNS=${NS}t
  NET_B=10.214.$(($$ % 250))
  on_exit "ip netns del $HOST_B_NETNS"
  ip netns add "$HOST_B_NETNS"
  ip -n "$HOST_B_NETNS" link set lo up
  for i in 0 1 2 3 4 5; do
    ip link add "${NS}c$i" netns "$HOST_B_NETNS" type veth peer name "${NS}e$i" netns "${NS}d$i"
    ip -n "$HOST_B_NETNS" addr add "$NET_B.$((4 * i + 1))/30" dev "${NS}c$i"
    ip -n "$HOST_B_NETNS" link set "${NS}c$i" up
    ip -n "$HOST_B_NETNS" route add "$NET.$((4 * i + 2))/32" dev "${NS}c$i" src "$NET_B.$((4 * i + 1))"
    ip -n "${NS}d$i" addr add "$NET_B.$((4 * i + 2))/30" dev "${NS}e$i"
    ip -n "${NS}d$i" link set "${NS}e$i" up
  done
fi

# start_depot I: nbdkit file serving $T/dI.img (96M, made on first start);
# returns once it serves.
start_depot() {
  local i=$1 serve
  [ -e "$T/d$i.img" ] || truncate -s 96M "$T/d$i.img"
  rm -f "$T/d$i.sock" "$T/d$i.pid"
  if [ "$MODE" = netns ]; then
    serve=(ip netns exec "${NS}d$i" nbdkit -p 10809 --filter=delay)
    "${serve[@]}" -f --exit-with-parent -P "$T/d$i.pid" file "$T/d$i.img" rdelay=1ms wdelay=1ms \
      >>"$T/depot$i.log" 2>&1 &
  else
    nbdkit -f --exit-with-parent -U "$T/d$i.sock" -P "$T/d$i.pid" file "$T/d$i.img" >>"$T/depot$i.log" 2>&1 &
  fi
  DEPOT_PIDS[i]=$!
  on_exit "kill_started ${DEPOT_PIDS[i]}"
  wait_for_pidfile "$T/d$i.pid" "depot $i"
}
kill_depot() {
  kill -KILL "${DEPOT_PIDS[$1]}"
  wait "${DEPOT_PIDS[$1]}" 2>/dev/null || true
}
depot_uri() {
  if [ "$MODE" = netns ]; then
    echo "nbd://$NET.$((4 * $1 + 2)):10809/"
  else
    echo "nbd+unix:///?socket=$T/d$1.sock"
  fi
}

fio_run() {
  fio --name=rs --ioengine=nbd --uri="$(nbd_uri vol)" --rw=randwrite --bssplit=4k/50:64k/30:256k/20 \
    --size=32M --iodepth=16 --verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=1 \
    --output="$T/fio.out" "$@" >"$T/fio.log" 2>&1
}
fio_ok() { fio_run "$@" && grep -q 'err= 0' "$T/fio.out"; }
json_field() { "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
vdev_state() {
  tessera vdev list --pool "$POOL" --json | json_field "[v['state'] for v in d if v['name'] == '$1'][0]"
}

for i in 0 1 2 3 4 5; do start_depot "$i"; done

log "(a) pool create over 6 depots"
vdev_args=()
for i in 0 1 2; do vdev_args+=(--vdev "tier=fastest,path=meta$i.img,size=64M,name=meta$i"); done
for i in 0 1 2 3 4 5; do
  vdev_args+=(--vdev "kind=nbd,uri=$(depot_uri "$i"),tier=slow,host=h$i,name=d$i$VDEV_TIMEOUT")
done
tessera pool create --pool "$POOL" "${vdev_args[@]}" >"$T/pool-create.out" 2>&1 ||
  fail "pool create failed: $(cat "$T/pool-create.out")"
grep -q "^uri = $(depot_uri 3)\$" "$POOL/pool.conf" || fail "pool.conf lacks d3's uri: $(cat "$POOL/pool.conf")"
grep -A6 '^\[vdev d3\]' "$POOL/pool.conf" | grep -q '^size = 100663296$' ||
  fail "pool.conf lacks d3's size from its export: $(cat "$POOL/pool.conf")"
grep -A6 '^\[vdev d3\]' "$POOL/pool.conf" | grep -q '^path' && fail "pool.conf names a path for d3"
expect_fail "a second pool create on the same depots" \
  tessera pool create --pool "$T/pool2" --vdev "kind=nbd,uri=$(depot_uri 0),name=x"
expect_match "second create" "already holds the label of vdev 'd0'" "$EXPECT_OUT"
new_volume vol 64M rs:4+2

start_server "$POOL"
log "(b) healthy: fio write + verify"
fio_ok || fail "(b) fio on the healthy volume failed: $(tail -n 20 "$T/fio.out")"
log "  $(grep -Eo 'IOPS=[^,]+' "$T/fio.out" | head -n 2 | tr '\n' ' ')"

log "(c) depot 2 killed while fio writes"
# At 300 requests a second the write phase lasts over 10 s: the kill lands in it.
fio_run --rate_iops=300 &
FIO_PID=$!
on_exit "kill_started $FIO_PID"
sleep 2
kill_depot 2
wait "$FIO_PID" || fail "(c) fio failed with depot 2 killed: $(tail -n 20 "$T/fio.out")"
grep -q 'err= 0' "$T/fio.out" || fail "(c) fio reported errors: $(tail -n 20 "$T/fio.out")"
fio_ok --verify_only=1 || fail "(c) verify-only with depot 2 gone failed: $(tail -n 20 "$T/fio.out")"
# The next commit's flush of d2 fails and faults it (a few seconds).
for ((n = 0; n < 100; n++)); do
  [ "$(vdev_state d2)" != online ] && break
  sleep 0.2
done
state=$(vdev_state d2)
[ "$state" != online ] || fail "(c) d2 is still online with its depot gone"
log "  d2 is $state"

back=(2)
if [ "$MODE" = netns ]; then
  log "(c2) depot 4's link set down while fio writes"
  fio_run --rate_iops=300 &
  FIO_PID=$!
  on_exit "kill_started $FIO_PID"
  sleep 1
  ip -n "${NS}d4" link set "${NS}b4" down
  wait "$FIO_PID" || fail "(c2) fio failed with depot 4's link down: $(tail -n 20 "$T/fio.out")"
  grep -q 'err= 0' "$T/fio.out" || fail "(c2) fio reported errors: $(tail -n 20 "$T/fio.out")"
  fio_ok --verify_only=1 || fail "(c2) verify-only with 2 depots gone failed: $(tail -n 20 "$T/fio.out")"
  for ((n = 0; n < 100; n++)); do
    [ "$(vdev_state d4)" != online ] && break
    sleep 0.2
  done
  log "  d4 is $(vdev_state d4)"

  log "(c3) a third depot lost: reads fail with EIO, never give wrong data"
  nbdcopy "$(nbd_uri vol)" "$T/before.img" || fail "(c3) nbdcopy of the volume failed"
  stop_server  # its cache would answer the reads
  kill_depot 0
  start_server "$POOL"
  read_back=$("$PYTHON" - "$(nbd_uri vol)" "$T/before.img" <<'PY'
import errno, sys
import nbd
h = nbd.NBD()
h.connect_uri(sys.argv[1])
expected = open(sys.argv[2], "rb").read()
good = eio = 0
for off in range(0, 32 << 20, 64 << 10):
    try:
        got = h.pread(64 << 10, off)
    except nbd.Error as e:
        if e.errnum != errno.EIO:
            sys.exit(f"offset {off}: {e} (not EIO)")
        eio += 1
        continue
    if got != expected[off:off + len(got)]:
        sys.exit(f"offset {off}: wrong data with three depots gone")
    good += 1
print(f"{eio} EIO {good} good")
PY
) || fail "(c3) $read_back"
log "  64 KiB reads: $read_back"
[[ $read_back == 0\ EIO* ]] && fail "(c3) no read failed with three of six depots gone"
stop_server
ip -n "${NS}d4" link set "${NS}b4" up
# The connections the link cut may make depot 4's nbdkit abort once they
# close (its delay filter: "raw_send_socket: Assertion `sock >= 0'
# failed", seen once): it starts afresh, as a host that comes back.
kill_depot 4 2>/dev/null || true
start_depot 4
start_depot 0
start_server "$POOL"
tessera vdev online d0 --pool "$POOL" >/dev/null 2>&1 || fail "(c3) vdev online d0 failed"
back+=(4)
fi

log "(d) depot(s) ${back[*]} back: vdev online catches up, a scrub then repairs nothing"
start_depot 2
for i in "${back[@]}"; do
  online=$(tessera vdev online "d$i" --pool "$POOL" --json 2>"$T/online.err") ||
    fail "vdev online d$i: $online $(cat "$T/online.err")"
  [ "$(vdev_state "d$i")" = online ] || fail "(d) d$i is not online after vdev online"
  rows=$(json_field "d['catch_up']['rows']" <<<"$online")
  chunks=$(json_field "d['catch_up']['rebuilt_chunks']" <<<"$online")
  log "  d$i caught up on $rows rows: $chunks chunks rewritten"
  [ "$(json_field "d['catch_up']['rows_left']" <<<"$online")" = 0 ] || fail "(d) d$i has rows left: $online"
  if [ "$i" = 2 ]; then
    ((rows > 0 && chunks > 0)) || fail "(d) d2 caught up on nothing: no write missed depot 2 (was it killed too late?)"
  fi
done
scrub=$(tessera pool scrub --pool "$POOL" --json 2>/dev/null) || fail "(d) scrub failed: $scrub"
[ "$(json_field "d['unrecoverable']" <<<"$scrub")" = 0 ] || fail "(d) scrub found unrecoverable data: $scrub"
[ "$(json_field "d['repaired']" <<<"$scrub")" = 0 ] || fail "(d) the scrub after the catch-up still repaired: $scrub"
fio_ok --verify_only=1 || fail "(d) verify-only after the depot came back failed: $(tail -n 20 "$T/fio.out")"
stop_server

log "restart: every depot online, data verifies"
start_server "$POOL"
expect_match "pool status after restart" 'health: +online' "$(tessera pool status --pool "$POOL")"
fio_ok --verify_only=1 || fail "verify-only after restart failed: $(tail -n 20 "$T/fio.out")"
stop_server
if [ "$MODE" = unix ]; then
  # nbdkit --run forks after opening the pool: the serving child makes its
  # own connections to the depots.
  log "a forking server (nbdkit --run): data verifies"
  captive "$POOL" fio --name=rs --ioengine=nbd --uri="nbd+unix:///vol?socket=@SOCK@" --rw=randwrite \
    --bssplit=4k/50:64k/30:256k/20 --size=32M --iodepth=16 --verify=crc32c --verify_fatal=1 --do_verify=1 \
    --randrepeat=1 --verify_only=1 --output="$T/fio.out" >"$T/fio.log" 2>&1 ||
    fail "verify-only under a forking server failed: $(tail -n 20 "$T/fio.out")"
  grep -q 'err= 0' "$T/fio.out" || fail "fio under a forking server reported errors"
fi
pool_check
if [ "$MODE" = netns ]; then
  log "(e) a second host: refused while the first serves, and takes over after the first dies"
  mkdir -p "$T/pool-b"
  chmod 0700 "$T/pool-b"
  sed "s|^path = \([^/]\)|path = $POOL/\1|" "$POOL/pool.conf" >"$T/pool-b/pool.conf"
  host_b() { ip netns exec "$HOST_B_NETNS" env TESSERA_HOST_ID=host-b "$TESSERA_BIN" "$@"; }
  start_server "$POOL"
  first=$SERVER_PID
  expect_fail "an open from the second host" host_b pool status --pool "$T/pool-b"
  expect_match "second host" "the pool is in use by host .*: its lease was renewed while this open watched it" \
    "$EXPECT_OUT"
  kill -KILL "$first"
  wait "$first" 2>/dev/null || true
  export TESSERA_HOST_ID=host-b
  SERVER_NETNS=$HOST_B_NETNS start_server "$T/pool-b"
  unset TESSERA_HOST_ID
  grep -q "taking over the pool's lease" "$T/server.log" || fail "(e) the second host did not log a takeover"
  fio_ok --verify_only=1 || fail "(e) verify-only through the second host failed: $(tail -n 20 "$T/fio.out")"
  stop_server
fi
for i in 0 1 2 3 4 5; do kill_started "${DEPOT_PIDS[i]}"; done
