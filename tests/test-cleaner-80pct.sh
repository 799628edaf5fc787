#!/usr/bin/env bash
# The cleaner under a nearly full pool: a volume sized at 80% of its pool is
# filled, then overwritten at random twice over its size (4K-64K writes,
# QD16), the last pass with verify=crc32c. The log cannot simply grow: the
# cleaner must relocate live blocks out of partly dead rows, down to the
# aggressive bound. No write may fail with ENOSPC and every block verifies;
# the data verifies again after a restart and the pool checks clean.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd fio
make_tmpdir

new_pool 1 256M
new_volume vol0 204M   # 80% of the pool

run_fio() {
  captive "$POOL" fio --name=overwrite --ioengine=nbd --uri='nbd+unix:///vol0?socket=@SOCK@' \
    --size=204M --iodepth=16 --output="$T/fio.out" "$@" >/dev/null 2>&1 || {
    grep -m 3 -E 'error|No space' "$T/fio.out" "$T/server.log" >&2 || true
    fail "fio $* failed on a volume at 80% of its pool ($(grep -o 'NoSpace.*' "$T/server.log" | head -n 1))"
  }
}
used() { tessera pool status --pool "$POOL" --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["used_bytes"] >> 20)'; }

run_fio --rw=write --bs=1M
log "filled; pool used: $(used) MiB"
run_fio --rw=randwrite --bsrange=4k-64k --io_size=204M --randseed=1
log "overwritten once; pool used: $(used) MiB"
run_fio --rw=randwrite --bsrange=4k-64k --io_size=204M --randseed=2 \
  --verify=crc32c --verify_fatal=1 --do_verify=1 --verify_state_save=0
log "overwritten twice, verified; pool used: $(used) MiB"
run_fio --rw=randwrite --bsrange=4k-64k --io_size=204M --randseed=2 \
  --verify=crc32c --verify_fatal=1 --verify_only=1 --verify_state_save=0
log "verified again after a restart"
pool_check
