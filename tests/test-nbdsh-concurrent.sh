#!/usr/bin/env bash
# nbdsh (libnbd): concurrent sub-block writes. Several connections write at
# the same time into the same 4 KiB blocks, each into its own byte slice of
# every block (tests/concurrent_io.py); no write may be lost to another's
# read-modify-write. Checked at once and after a clean restart, on a simple
# volume (4 connections, 1 KiB slices) and a stripe:2 volume (8 connections,
# 512-byte slices).
source "$(dirname "$0")/functions.sh"
require_build
make_tmpdir

new_pool 2 256M
new_volume simple0 32M simple
new_volume stripe0 32M stripe:2
seed=${TESSERA_TEST_SEED:-$RANDOM}
log "seed $seed (set TESSERA_TEST_SEED to repeat)"

run() {
  local vol=$1 threads=$2
  log "$vol: $threads connections writing into shared blocks"
  captive "$POOL" "$PYTHON" "$TESSERA_SRC/tests/concurrent_io.py" run @SOCK@ "$vol" "$T/$vol.model" \
    --threads "$threads" --seconds 3 --seed "$seed" || fail "$vol: concurrent sub-block writes were lost (seed $seed)"
  captive "$POOL" "$PYTHON" "$TESSERA_SRC/tests/concurrent_io.py" verify @SOCK@ "$vol" "$T/$vol.model" \
    --threads "$threads" || fail "$vol: concurrent sub-block writes were lost after a restart (seed $seed)"
}
run simple0 4
run stripe0 8
pool_check
