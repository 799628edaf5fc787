#!/usr/bin/env bash
# Hostile NBD clients against one server (issue 14, "Hostile NBD clients").
# A pool of sparse vdevs holds a sparse 4G volume (big), vol0 (the live
# client's), vol1 (stripe:2) and snapshots of vol0. Each step runs hostile
# clients (tests/hostile_clients.py, nbdinfo) in the background; meanwhile
# and afterwards a well-behaved client connects, writes a 4 KiB block,
# flushes and reads it back within 10 s:
#   1. list_exports storms: nbdinfo --list and raw NBD_OPT_LIST sessions in
#      parallel for 10 s;
#   2. NBD_CMD_CACHE over more than 4 GiB on big: the whole volume in
#      maximum-size requests, then 1 GiB and 4 GiB - 4 KiB requests;
#   3. 200 idle connections in transmission (and 20 stopped after the
#      greeting) held open;
#   4. a client that pipelines 32 MiB reads and stops reading the replies,
#      then drains them (dropping the connection instead aborts nbdkit: a
#      known bug, run only with TESSERA_HOSTILE_KNOWN_BUGS=1, and avoided
#      with one thread per connection, tests/test-serve-limits.sh);
#   5. hundreds of connections opened and dropped, at every handshake stage;
#   6. option-phase abuse: export names of 4096 bytes and more, hundreds of
#      NBD_OPT_INFO/NBD_OPT_LIST in one session, unknown options,
#      NBD_OPT_STARTTLS without TLS, options before the client flags.
# Afterwards the server still serves, every block the live client wrote reads
# back, the server stops cleanly on SIGTERM and pool check is clean. The
# server's peak RSS (VmHWM, reset before each step through clear_refs when
# the kernel allows) is printed per step; a peak above 2 GiB fails. No timing
# is asserted except the liveness bounds.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd nbdinfo timeout
make_tmpdir

HC=$TESSERA_SRC/tests/hostile_clients.py
RSS_BOUND_KB=$((2 << 20))
MODEL=$T/live.model
# 220 client sockets, the server's side of each and libnbd's: more than the
# usual soft limit of 1024 is not needed, but raise it where it is lower.
[ "$(ulimit -n)" -ge 2048 ] || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 1024 ] || skip "the open-file limit ($(ulimit -n)) is below 1024"

new_pool 2 3G
new_volume big 4G
new_volume vol0 64M
new_volume vol1 256M stripe:2
for s in a b c; do
  tessera snapshot create "vol0@$s" --pool "$POOL" >/dev/null || fail "snapshot create vol0@$s failed"
done
start_server "$POOL"

# live TAG: the well-behaved client, bounded to 10 s.
live() {
  timeout -k 2 10 "$PYTHON" "$HC" live "$SOCK" vol0 "$MODEL" "$1" >>"$T/live.log" 2>&1 ||
    fail "$1: the live client was not served within 10 s: $(tail -n 2 "$T/live.log")"
}

status_field() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$SERVER_PID/status"; }

# reset_peak: starts a new VmHWM window (Linux clear_refs, value 5).
PEAK_RESET=0
reset_peak() { echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null && PEAK_RESET=1 || PEAK_RESET=0; }

# report STEP: the server is alive; its peak and current RSS, threads and
# descriptors; a peak above the bound fails.
declare -a PEAKS=()
report() {
  server_alive || fail "$1: the server died: $(tail -n 5 "$T/server.log")"
  local hwm rss threads fds scope
  hwm=$(status_field VmHWM)
  rss=$(status_field VmRSS)
  threads=$(status_field Threads)
  fds=$(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  scope="during the step"
  [ "$PEAK_RESET" = 1 ] || scope="since the start"
  log "$1: peak RSS $((hwm / 1024)) MiB ($scope), RSS now $((rss / 1024)) MiB, $threads threads, $fds fds"
  PEAKS+=("$1 $((hwm / 1024)) MiB")
  [ "$hwm" -le "$RSS_BOUND_KB" ] || fail "$1: the server's peak RSS is $((hwm / 1024)) MiB, above the $((RSS_BOUND_KB / 1024)) MiB bound"
}

# wait_file FILE PID WHAT: FILE appears within 60 s while PID runs.
wait_file() {
  local i
  for ((i = 0; i < 600; i++)); do
    [ -e "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || { wait "$2" || true; fail "$3 exited early: $(tail -n 3 "$T/$3.log")"; }
    sleep 0.1
  done
  fail "$3 was not ready within 60 s"
}

# reap PID WHAT: the background client succeeded.
reap() { wait "$1" || fail "$2 failed: $(tail -n 5 "$T/$2.log")"; }

live start
reset_peak
report start

log "1. list_exports storms for 10 s"
reset_peak
storm_pids=()
for i in 1 2 3 4 5 6; do
  (
    end=$((SECONDS + 10)) n=0
    while [ "$SECONDS" -lt "$end" ]; do
      timeout 10 nbdinfo --list "$(nbd_uri "")" >/dev/null || { echo "nbdinfo --list failed after $n"; exit 1; }
      n=$((n + 1))
    done
    echo "$n nbdinfo --list"
  ) >"$T/storm-nbdinfo$i.log" 2>&1 &
  storm_pids+=($!)
  on_exit "kill_started $!"
done
for i in 1 2 3 4; do
  timeout -k 2 30 "$PYTHON" "$HC" list-storm "$SOCK" 10 >"$T/storm-raw$i.log" 2>&1 &
  storm_pids+=($!)
  on_exit "kill_started $!"
done
for t in 2 5 8; do
  sleep 3
  live "storm-$t"
done
for p in "${storm_pids[@]}"; do wait "$p" || fail "a list storm client failed: $(cat "$T"/storm-*.log | grep -v '^[0-9]' | head -n 3)"; done
log "$(cat "$T"/storm-nbdinfo*.log | awk '{ n += $1 } END { print n " nbdinfo --list," }') $(cat "$T"/storm-raw*.log | awk '{ s += $2; l += $4 } END { print s " raw sessions, " l " NBD_OPT_LIST" }')"
live after-storm
report "1 list storm"

log "2. NBD_CMD_CACHE over more than 4 GiB on the 4G volume"
reset_peak
timeout -k 2 150 "$PYTHON" "$HC" cache "$SOCK" big >"$T/cache.log" 2>&1 &
cache_pid=$!
on_exit "kill_started $cache_pid"
sleep 1
live cache-during
reap "$cache_pid" cache
sed 's/^/    /' "$T/cache.log"
live after-cache
report "2 cache"

log "3. 200 idle connections"
reset_peak
threads_before=$(status_field Threads)
timeout -k 2 120 "$PYTHON" "$HC" idle "$SOCK" vol1 200 "$T/idle.ready" "$T/idle.release" >"$T/idle.log" 2>&1 &
idle_pid=$!
on_exit "kill_started $idle_pid"
wait_file "$T/idle.ready" "$idle_pid" idle
threads_idle=$(status_field Threads)
log "idle: the server runs $threads_idle threads with 220 connections held ($threads_before before)"
live idle-during
report "3 idle (held)"
touch "$T/idle.release"
reap "$idle_pid" idle
live after-idle
report "3 idle (released)"

log "4. a client that sends 32 MiB reads and stops reading replies"
reset_peak
timeout -k 2 90 "$PYTHON" "$HC" stall "$SOCK" big 20 drain "$T/stall.ready" "$T/stall.release" >"$T/stall.log" 2>&1 &
stall_pid=$!
on_exit "kill_started $stall_pid"
wait_file "$T/stall.ready" "$stall_pid" stall
sleep 3
live stall-during
report "4 stalled reader (held)"
touch "$T/stall.release"
reap "$stall_pid" stall
sed 's/^/    /' "$T/stall.log"
live after-stall
report "4 stalled reader (drained)"
# Known bug, opt-in: nbdkit (1.32.5 here) aborts with "raw_send_socket:
# Assertion 'sock >= 0' failed" when a client drops its connection while
# replies of several worker threads are still queued, so every client loses
# the server. Set TESSERA_HOSTILE_KNOWN_BUGS=1 to run it. One worker thread
# per connection avoids it (nbdkit --threads 1; tessera serve --threads 1
# in tests/test-serve-limits.sh step 5); this server runs nbdkit's default
# of 16, and tests/test-serve-limits.sh bounds the request buffers.
if [ "${TESSERA_HOSTILE_KNOWN_BUGS:-0}" = 1 ]; then
  log "4b. the stalled reader drops its connection with replies queued (known bug)"
  rm -f "$T/stall.ready" "$T/stall.release"
  timeout -k 2 60 "$PYTHON" "$HC" stall "$SOCK" big 64 close "$T/stall.ready" "$T/stall.release" >"$T/stall-drop.log" 2>&1 &
  stall_pid=$!
  on_exit "kill_started $stall_pid"
  wait_file "$T/stall.ready" "$stall_pid" stall-drop
  sleep 2
  touch "$T/stall.release"
  reap "$stall_pid" stall-drop
  sleep 3
  server_alive || fail "4b: the server died when a client dropped its connection with replies queued: $(grep -m1 -i assert "$T/server.log")"
  live after-stall-drop
  report "4b stalled reader (dropped)"
else
  log "4b. skipped: a client dropping its connection with replies queued aborts nbdkit (TESSERA_HOSTILE_KNOWN_BUGS=1 runs it)"
fi

log "5. connections opened and dropped in a loop"
reset_peak
timeout -k 2 90 "$PYTHON" "$HC" churn "$SOCK" vol1 660 >"$T/churn.log" 2>&1 &
churn_pid=$!
on_exit "kill_started $churn_pid"
sleep 1
live churn-during
reap "$churn_pid" churn
sed 's/^/    /' "$T/churn.log"
live after-churn
report "5 open and drop"

log "6. option-phase abuse"
reset_peak
timeout -k 2 90 "$PYTHON" "$HC" options "$SOCK" vol1 >"$T/options.log" 2>&1 &
options_pid=$!
on_exit "kill_started $options_pid"
reap "$options_pid" options
sed 's/^/    /' "$T/options.log"
live after-options
report "6 option abuse"

log "afterwards: nbdinfo --list, every live block, clean stop, pool check"
timeout 10 nbdinfo --list "$(nbd_uri "")" >"$T/list.out" 2>&1 || fail "nbdinfo --list failed at the end: $(cat "$T/list.out")"
timeout -k 2 30 "$PYTHON" "$HC" verify "$SOCK" vol0 "$MODEL" >"$T/verify.log" 2>&1 ||
  fail "the live client's blocks do not read back: $(cat "$T/verify.log")"
log "$(cat "$T/verify.log")"
threads_end=$(status_field Threads)
log "the server runs $threads_end threads at the end ($threads_before after start)"
stop_server
pool_check
log "peak RSS per step: $(printf '%s; ' "${PEAKS[@]}")"
