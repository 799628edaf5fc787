#!/usr/bin/env bash
# Volume lifecycle under churn, through a running server: two clients keep
# connecting, writing sixteen 64 KiB extents, flushing and disconnecting (on
# volumes v and w) while the CLI loops over one kind of management call:
# snapshot create and delete, clone and volume delete, or diff. Disconnects
# then close volumes while commits run; a close must never deadlock a commit,
# and no write may be lost. After each churn, `nbdinfo --list` answers and
# every extent the clients wrote reads back. TESSERA_CHURN_SECONDS sets the
# length of each churn (default 20).
source "$(dirname "$0")/functions.sh"
require_build
make_tmpdir

seconds=${TESSERA_CHURN_SECONDS:-20}
new_pool 2 512M
new_volume v 16M
new_volume w 16M
start_server "$POOL" commit-interval=200
tessera snapshot create v@base --pool "$POOL" >/dev/null || fail "snapshot create v@base failed"

# cli_loop KIND: one management call after another until the clients stop.
cli_loop() {
  local kind=$1 i=0 out
  while kill -0 "$v_pid" 2>/dev/null || kill -0 "$w_pid" 2>/dev/null; do
    i=$((i + 1))
    case $kind in
      snapshot)
        out=$(timeout 30 "$TESSERA_BIN" snapshot create v@s --pool "$POOL" 2>&1) || { echo "snapshot create: $out"; return 1; }
        out=$(timeout 30 "$TESSERA_BIN" snapshot delete v@s --pool "$POOL" 2>&1) || { echo "snapshot delete: $out"; return 1; }
        ;;
      clone)
        out=$(timeout 30 "$TESSERA_BIN" clone v@base "c$i" --pool "$POOL" 2>&1) || { echo "clone: $out"; return 1; }
        out=$(timeout 30 "$TESSERA_BIN" volume delete "c$i" --pool "$POOL" 2>&1) || { echo "volume delete: $out"; return 1; }
        ;;
      diff)
        out=$(timeout 30 "$TESSERA_BIN" diff v@base v --pool "$POOL" 2>&1) || { echo "diff: $out"; return 1; }
        ;;
    esac
  done
  echo "$i rounds of $kind"
}

round=0
for kind in snapshot clone diff; do
  round=$((round + 1))
  log "churn: client sessions on v and w against $kind calls for $seconds s"
  "$PYTHON" "$TESSERA_SRC/tests/churn_clients.py" run "$SOCK" v "$T/v.model" --seconds "$seconds" --seed "$round"1 \
    >"$T/v-$kind.log" 2>&1 &
  v_pid=$!
  on_exit "kill_started $v_pid"
  "$PYTHON" "$TESSERA_SRC/tests/churn_clients.py" run "$SOCK" w "$T/w.model" --seconds "$seconds" --seed "$round"2 \
    >"$T/w-$kind.log" 2>&1 &
  w_pid=$!
  on_exit "kill_started $w_pid"
  cli_out=$(cli_loop "$kind") || fail "$kind during client sessions: $cli_out"
  log "$cli_out"
  wait "$v_pid" || fail "client sessions on v failed: $(tail -n 3 "$T/v-$kind.log")"
  wait "$w_pid" || fail "client sessions on w failed: $(tail -n 3 "$T/w-$kind.log")"
  log "$(cat "$T/v-$kind.log") / $(cat "$T/w-$kind.log")"
  timeout 10 nbdinfo --list "$(nbd_uri "")" >"$T/list.out" 2>&1 || fail "nbdinfo --list did not answer after the $kind churn"
  for vol in v w; do
    timeout 60 "$PYTHON" "$TESSERA_SRC/tests/churn_clients.py" verify "$SOCK" "$vol" "$T/$vol.model" \
      >>"$T/verify.log" 2>&1 || fail "after the $kind churn, $vol lost writes: $(tail -n 3 "$T/verify.log")"
  done
done
stop_server
# A close or a cleaner that failed is logged, even when no data was lost.
if grep -E "tessera error|error:" "$T/server.log" >"$T/errors.out"; then
  fail "the server logged errors: $(head -n 3 "$T/errors.out")"
fi
pool_check
log "ok"
