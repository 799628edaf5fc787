#!/usr/bin/env bash
# nbdsh (libnbd): unaligned reads and writes at odd offsets and lengths,
# zero with and without may-trim, FUA and flushes, over two connections,
# each checked at once against a flat bytearray model (tests/model_io.py);
# then the whole export is compared with the model after a clean restart.
# Runs on a simple volume and on a stripe:2 volume.
source "$(dirname "$0")/functions.sh"
require_build
make_tmpdir

new_pool 2 256M
new_volume simple0 48M simple
new_volume stripe0 48M stripe:2
seed=${TESSERA_TEST_SEED:-$RANDOM}
log "seed $seed (set TESSERA_TEST_SEED to repeat)"

for vol in simple0 stripe0; do
  log "$vol: random unaligned I/O"
  captive "$POOL" "$PYTHON" "$TESSERA_SRC/tests/model_io.py" run @SOCK@ "$vol" "$T/$vol.model" \
    --seed "$seed" --ops 1500 --connections 2 || fail "$vol: model mismatch (seed $seed)"
done
for vol in simple0 stripe0; do
  log "$vol: after a clean restart, the whole export equals the model"
  captive "$POOL" "$PYTHON" "$TESSERA_SRC/tests/model_io.py" verify @SOCK@ "$vol" "$T/$vol.model" ||
    fail "$vol: data differs from the model after a restart (seed $seed)"
done
log "simple0: a second round on the restarted pool"
captive "$POOL" "$PYTHON" "$TESSERA_SRC/tests/model_io.py" run @SOCK@ simple0 "$T/simple0.model" \
  --seed $((seed + 1)) --ops 500 --connections 2 || fail "simple0: model mismatch in round 2 (seed $seed)"
pool_check
