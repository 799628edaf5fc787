#!/usr/bin/env bash
# tessera serve bounds its request buffers (issue 14, "Hostile NBD clients";
# admin/serve_limits.h): nbdkit holds a buffer of up to 64 MiB per worker
# thread of each client, allocated before the plugin sees the request, so
# only --max-connections and --threads bound them.
#   1. Bad values (--max-connections 0, --threads 65, threads = 0 in
#      pool.conf) are refused with an error naming them; nothing starts and
#      pool.conf is unchanged.
#   2. serve --memory 128M --max-connections 3 --threads 2 prints its worst
#      case (128M + 3 x 2 x 64M = 512M). Two clients that pipeline 64 MiB
#      reads and stop reading replies hold two of the three places: the live
#      client still connects, writes and reads back within 10 s.
#   3. A third stalled client fills the server: a fourth connection (the
#      live client) is refused at once, not left hanging, and the log says
#      why. The server's peak RSS (VmHWM) stays within the printed worst
#      case over its RSS before any client came, and above that RSS by at
#      least two thirds of the request buffers (else nothing was tested).
#   4. The stalled clients read their replies and leave: the live client is
#      served again.
#   5. With --threads 1, stalled clients that drop their connections with
#      replies queued do not take the server down (with more threads nbdkit
#      1.32 aborts: tests/test-hostile-clients.sh step 4b), and the peak
#      stays within that server's bound.
# Afterwards every block the live client wrote reads back and the pool checks
# clean.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd nbdinfo timeout
make_tmpdir

HC=$TESSERA_SRC/tests/hostile_clients.py
MODEL=$T/live.model
new_pool 1 1G
new_volume big 512M
new_volume vol0 64M
SOCK=$POOL/nbd.sock

log "1. bad values are refused"
cp "$POOL/pool.conf" "$T/pool.conf.before"
expect_fail "--max-connections 0" tessera serve --pool "$POOL" --max-connections 0
expect_match "--max-connections 0" "max-connections.*0" "$EXPECT_OUT"
expect_fail "--threads 65" tessera serve --pool "$POOL" --threads 65
expect_match "--threads 65" "threads.*65" "$EXPECT_OUT"
expect_fail "--threads x" tessera serve --pool "$POOL" --threads x
sed -i 's/^\[pool\]$/[pool]\nthreads = 0/' "$POOL/pool.conf"
expect_fail "threads = 0 in pool.conf" tessera serve --pool "$POOL"
expect_match "threads = 0 in pool.conf" "line 2: threads = 0 is not a whole number from 1 to 64" "$EXPECT_OUT"
cp "$T/pool.conf.before" "$POOL/pool.conf"
[ ! -e "$SOCK" ] || fail "a refused serve left $SOCK behind"
cmp -s "$POOL/pool.conf" "$T/pool.conf.before" || fail "a refused serve changed pool.conf"

status_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$SERVER_PID/status"; }

# serve_limited TAG ARGS...: tessera serve with ARGS in the foreground (it
# execs nbdkit, so $! is the server), bounded by stop_server and the cleanup.
# Sets BOUND_MIB (the worst case it printed) and BASE_KB (its RSS once the
# live client was served), and starts a new peak (clear_refs; without it the
# peak counts from the start, which is below BASE_KB anyway).
serve_limited() {
  local tag=$1 i line
  shift
  TESSERA_PLUGIN=$PLUGIN "$TESSERA_BIN" serve --pool "$POOL" "$@" >"$T/serve-$tag.log" 2>&1 &
  SERVER_PID=$!
  on_exit "kill_started $SERVER_PID"
  for ((i = 0; i < 300; i++)); do
    [ -S "$SOCK" ] && nbdinfo --size "$(nbd_uri vol0)" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "tessera serve $* exited: $(cat "$T/serve-$tag.log")"
    sleep 0.1
  done
  line=$(grep -m1 '^  memory ' "$T/serve-$tag.log") || fail "serve $* prints no memory bound: $(cat "$T/serve-$tag.log")"
  log "$tag: $(sed 's/^ *//' <<<"$line")"
  BOUND_MIB=$(sed -nE 's/.*at most ([0-9]+)M:.*/\1/p' <<<"$line")
  [ -n "$BOUND_MIB" ] || fail "cannot read the bound in MiB from: $line"
  live "$tag-start"
  BASE_KB=$(status_kb VmRSS)
  echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null || true
}

# live TAG: the well-behaved client writes a block, flushes and reads it back
# within 10 s. live_refused TAG: it is refused within 10 s.
live() {
  timeout -k 2 10 "$PYTHON" "$HC" live "$SOCK" vol0 "$MODEL" "$1" >>"$T/live.log" 2>&1 ||
    fail "$1: the live client was not served within 10 s: $(tail -n 2 "$T/live.log")"
}
live_refused() {
  local rc=0
  timeout -k 2 10 "$PYTHON" "$HC" live "$SOCK" vol0 "$MODEL" "$1" >>"$T/live.log" 2>&1 || rc=$?
  [ "$rc" -ne 0 ] || fail "$1: a connection over the limit was served"
  [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "$1: a connection over the limit hung instead of being refused"
}

# stall NAME NREQ MODE: a client that pipelines NREQ 64 MiB reads of big and
# stops reading replies; returns once they are sent. Its pid is STALL_PIDS[NAME].
declare -A STALL_PIDS=()
stall() {
  local i pid
  timeout -k 2 120 "$PYTHON" "$HC" stall "$SOCK" big "$2" "$3" "$T/$1.ready" "$T/$1.release" 64 >"$T/$1.log" 2>&1 &
  pid=$!
  STALL_PIDS[$1]=$pid
  on_exit "kill_started $pid"
  for ((i = 0; i < 300; i++)); do
    [ -e "$T/$1.ready" ] && return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" || true; fail "$1 exited early: $(tail -n 3 "$T/$1.log")"; }
    sleep 0.1
  done
  fail "$1 did not send its requests within 30 s"
}
# release NAME: the stalled client goes on (reads its replies, or drops).
release() {
  touch "$T/$1.release"
  wait "${STALL_PIDS[$1]}" || fail "$1 failed: $(tail -n 3 "$T/$1.log")"
  sed 's/^/    /' "$T/$1.log"
}

# check_peak STEP MIN_GROWTH_MIB: the peak RSS is within BASE_KB + BOUND_MIB,
# and (so that the step tested something) at least MIN_GROWTH_MIB above BASE_KB.
# The buffers fill at the pace of the plugin's reads: wait up to 30 s for the
# growth before judging.
check_peak() {
  server_alive || fail "$1: the server died: $(tail -n 5 "$T"/serve-*.log)"
  local hwm_mib base_mib i
  base_mib=$((BASE_KB / 1024))
  for ((i = 0; i < 300; i++)); do
    hwm_mib=$(($(status_kb VmHWM) / 1024))
    [ "$hwm_mib" -lt $((base_mib + $2)) ] || break
    sleep 0.1
  done
  log "$1: peak RSS $hwm_mib MiB; RSS before the clients $base_mib MiB, printed worst case $BOUND_MIB MiB"
  [ "$hwm_mib" -le $((base_mib + BOUND_MIB)) ] ||
    fail "$1: the peak RSS $hwm_mib MiB is above $base_mib MiB + the printed $BOUND_MIB MiB"
  [ "$hwm_mib" -ge $((base_mib + $2)) ] ||
    fail "$1: the peak RSS $hwm_mib MiB grew less than $2 MiB: the stalled clients held no buffers"
}

log "2. --max-connections 3 --threads 2: two stalled clients, the live client is served"
serve_limited threads2 --memory 128M --max-connections 3 --threads 2
[ "$BOUND_MIB" = 512 ] || fail "the printed worst case is $BOUND_MIB MiB, not 128M + 3 x 2 x 64M = 512M"
stall stall1 6 drain
stall stall2 6 drain
sleep 2
live two-stalled
live two-stalled-again

log "3. a third stalled client fills the server: a fourth connection is refused"
stall stall3 6 drain
sleep 2
live_refused over-limit
grep -qi "too many" "$T/serve-threads2.log" ||
  fail "the server's log does not say why it refused a client: $(tail -n 3 "$T/serve-threads2.log")"
check_peak "3 three stalled clients held" 256

log "4. the stalled clients read their replies and leave"
release stall1
live one-left
release stall2
release stall3
live after-stall
check_peak "4 stalled clients drained" 256
timeout -k 2 30 "$PYTHON" "$HC" verify "$SOCK" vol0 "$MODEL" >"$T/verify.log" 2>&1 || fail "the live client's blocks do not read back: $(cat "$T/verify.log")"
stop_server

log "5. --threads 1: stalled clients that drop their connections with replies queued"
rm -f "$T"/stall*.ready "$T"/stall*.release
serve_limited threads1 --memory 128M --max-connections 3 --threads 1
[ "$BOUND_MIB" = 320 ] || fail "the printed worst case is $BOUND_MIB MiB, not 128M + 3 x 1 x 64M = 320M"
stall drop1 8 close
stall drop2 8 drop
sleep 2
live two-dropping
check_peak "5 two stalled clients held" 96
release drop1
release drop2
sleep 2
server_alive || fail "5: the server died when clients dropped their connections with replies queued: $(grep -m1 -i assert "$T/serve-threads1.log")"
live after-drop
check_peak "5 stalled clients dropped" 96

log "afterwards: every live block reads back, clean stop, pool check"
timeout -k 2 30 "$PYTHON" "$HC" verify "$SOCK" vol0 "$MODEL" >"$T/verify.log" 2>&1 ||
  fail "the live client's blocks do not read back: $(cat "$T/verify.log")"
log "$(cat "$T/verify.log")"
stop_server
pool_check
