#!/usr/bin/env bash
# Crash: kill -9 of the server under load, three rounds on one pool.
# On vol0, tests/crash_writer.py writes stamped 4 KiB blocks over 4
# connections with a flush every 16 writes per connection; at the same time
# fio writes vol1 (random 4K-64K writes, fsync=16, i.e. an NBD flush every 16
# writes). At a random moment the server is killed with SIGKILL. After a
# restart: every write acknowledged before the last completed flush reads
# back, every other block holds an old or a newer write (never garbage),
# vol1 reads end to end without an error, and `tessera pool check` is clean.
# Rounds differ in the commit interval: default, 300 ms (crashes around
# commits), and 10 minutes (recovery by log replay only).
source "$(dirname "$0")/functions.sh"
require_build
require_cmd fio nbdcopy
make_tmpdir

new_pool 2 512M
new_volume vol0 64M
new_volume vol1 64M stripe:2
seed=${TESSERA_TEST_SEED:-$RANDOM}
RANDOM=$seed
log "seed $seed (set TESSERA_TEST_SEED to repeat)"

round=0
for interval in 5000 300 600000; do
  round=$((round + 1))
  start_server "$POOL" commit-interval=$interval
  "$PYTHON" "$TESSERA_SRC/tests/crash_writer.py" write "$SOCK" vol0 "$T/state.json" \
    --threads 4 --flush-every 16 >"$T/writer.out" 2>&1 &
  writer=$!
  on_exit "kill_started $writer"
  fio --name=load --ioengine=nbd --uri="$(nbd_uri vol1)" --rw=randwrite \
    --bsrange=4k-64k --iodepth=8 --fsync=16 --time_based --runtime=60 --size=64M \
    --output="$T/fio-load.out" >/dev/null 2>&1 &
  fio_pid=$!
  on_exit "kill_started $fio_pid"
  delay_ms=$((1500 + RANDOM % 3000))
  sleep "$((delay_ms / 1000)).$(printf %03d $((delay_ms % 1000)))"
  server_alive || fail "round $round: the server died on its own under load"
  log "round $round (commit-interval=$interval ms): kill -9 after ${delay_ms} ms"
  crash_server
  rc=0
  wait "$writer" || rc=$?
  cat "$T/writer.out"
  [ "$rc" -eq 0 ] || fail "round $round: the writer failed"
  wait "$fio_pid" || true # fio fails once its server is gone

  log "round $round: pool check after the crash (before any restart)"
  pool_check
  start_server "$POOL"
  "$PYTHON" "$TESSERA_SRC/tests/crash_writer.py" verify "$SOCK" vol0 "$T/state.json" ||
    fail "round $round: acknowledged and flushed writes were lost or garbled (seed $seed)"
  nbdcopy "$(nbd_uri vol1)" null: || fail "round $round: reading all of vol1 after the crash failed"
  stop_server
done
pool_check
