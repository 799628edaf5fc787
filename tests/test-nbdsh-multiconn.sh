#!/usr/bin/env bash
# nbdsh (libnbd): can_multi_conn. Four connections; writes on connections
# 1..3, a single flush on connection 4, then kill -9 of the server with all
# four still open. After a restart everything written on 1..3 is there: a
# flush on one connection covers every connection, as can_multi_conn
# promises. Background commits are pushed out to 10 minutes so that only the
# flush can have made the data durable. (kill -9 drops what the server holds
# in its own memory -- dirty cache pages, an unwritten log batch -- not the
# kernel's page cache; power loss is the fault vdev's unit test.)
source "$(dirname "$0")/functions.sh"
require_build
make_tmpdir

new_pool 1 256M
new_volume vol0 32M

for round in 1 2; do
  log "round $round"
  start_server "$POOL" commit-interval=600000
  "$PYTHON" "$TESSERA_SRC/tests/durability.py" multiconn "$SOCK" vol0 "$T/expected.json" "$SERVER_PID" "$round" ||
    fail "multi-connection writes failed"
  reap_killed_server
  start_server "$POOL"
  "$PYTHON" "$TESSERA_SRC/tests/durability.py" verify "$SOCK" vol0 "$T/expected.json" ||
    fail "round $round: data written on connections 1-3 and flushed on connection 4 was lost by kill -9"
  stop_server
done
pool_check
