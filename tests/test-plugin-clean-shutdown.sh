#!/usr/bin/env bash
# Plugin lifecycle: a clean shutdown (SIGTERM) keeps every acknowledged
# write, flushed or not -- both when the client disconnected before the
# server stopped (the volume was closed first) and when it was still
# connected at SIGTERM and then vanished without a disconnect (nbdkit waits
# for connected clients, then closes the volume during shutdown). Background commits are pushed
# out to 10 minutes, so only the close and shutdown paths can have saved the
# data. Then the pool checks clean.
source "$(dirname "$0")/functions.sh"
require_build
make_tmpdir

new_pool 1 256M
new_volume disconnect-first 32M
new_volume stay-connected 32M

for mode in disconnect-first stay-connected; do
  log "$mode"
  rm -f "$T/ready"
  start_server "$POOL" commit-interval=600000
  "$PYTHON" - "$SOCK" "$mode" "$T/ready" <<'PY' &
import random, sys, time
from nbd_helpers import connect
sock, mode, ready = sys.argv[1:4]
h = connect(sock, mode, unaligned=True)
rng = random.Random(mode)
for i in range(200):  # whole blocks and sub-block pieces, never a flush
    off = rng.randrange(0, 16 << 20)
    h.pwrite(rng.randbytes(rng.choice([4096, 65536, rng.randrange(1, 9000)])), off)
if mode == "disconnect-first":
    h.shutdown()
open(ready, "w").close()
time.sleep(30 if mode == "stay-connected" else 0)
PY
  writer=$!
  on_exit "kill_started $writer"
  for ((i = 0; i < 300; i++)); do [ -e "$T/ready" ] && break; sleep 0.1; done
  [ -e "$T/ready" ] || fail "$mode: the writer did not finish"
  if [ "$mode" = stay-connected ]; then
    kill -TERM "$SERVER_PID"
    sleep 0.5
    kill -KILL "$writer" # gone without NBD_CMD_DISC
  fi
  wait "$writer" 2>/dev/null || true
  stop_server
  start_server "$POOL"
  "$PYTHON" - "$SOCK" "$mode" <<'PY' || fail "$mode: unflushed writes were lost by a clean shutdown"
import random, sys
from nbd_helpers import connect, expect_equal
sock, mode = sys.argv[1:3]
h = connect(sock, mode)
rng = random.Random(mode)
model = bytearray((16 << 20) + 73728)
for i in range(200):
    off = rng.randrange(0, 16 << 20)
    data = rng.randbytes(rng.choice([4096, 65536, rng.randrange(1, 9000)]))
    model[off:off + len(data)] = data
expect_equal(h.pread(len(model), 0), model, mode + ": the data and the model")
print("%s: all 200 unflushed writes survived the clean shutdown" % mode)
PY
  stop_server
done
pool_check
