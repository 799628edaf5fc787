#!/usr/bin/env bash
# nbdsh (libnbd): FUA. Writes (aligned and not), a trim and a zero, all with
# the FUA flag and never a flush, then kill -9 of the server with the
# connection still open; after a restart every FUA-written byte is there.
# Background commits are pushed out to 10 minutes so that only FUA itself can
# have made the data durable. (kill -9 drops what the server holds in its own
# memory, not the kernel's page cache; power loss is the fault vdev's unit
# test.)
source "$(dirname "$0")/functions.sh"
require_build
make_tmpdir

new_pool 1 256M
new_volume vol0 32M

start_server "$POOL" commit-interval=600000
"$PYTHON" "$TESSERA_SRC/tests/durability.py" fua "$SOCK" vol0 "$T/expected.json" "$SERVER_PID" ||
  fail "FUA writes failed"
reap_killed_server
start_server "$POOL"
"$PYTHON" "$TESSERA_SRC/tests/durability.py" verify "$SOCK" vol0 "$T/expected.json" ||
  fail "FUA writes were lost by kill -9"
stop_server
pool_check
