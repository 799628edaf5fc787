#!/usr/bin/env bash
# fio (nbd engine): space of overwritten and trimmed data is reused.
# A 64 MiB volume on a 256 MiB pool is overwritten five times over (320 MiB
# of random 4K-64K writes, more than the whole pool), the last pass with
# verify=crc32c: no write may fail with ENOSPC, since the volume never holds
# more than 64 MiB of live data (the log's dead rows must be freed or
# cleaned). Then the volume is trimmed entirely: after a restart the pool's
# used space has gone down.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd fio
make_tmpdir

new_pool 1 256M
new_volume vol0 64M

used_bytes() {
  tessera pool status --pool "$POOL" --json |
    "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("used_bytes", d.get("used")))'
}

for pass in 1 2 3 4 5; do
  verify=()
  [ "$pass" = 5 ] && verify=(--verify=crc32c --verify_fatal=1 --do_verify=1)
  captive "$POOL" fio --name=overwrite --ioengine=nbd --uri='nbd+unix:///vol0?socket=@SOCK@' \
    --rw=randwrite --bsrange=4k-64k --iodepth=16 --size=64M "${verify[@]}" \
    --output="$T/fio.out" >/dev/null 2>&1 || {
    grep -m 3 -E 'error|No space' "$T/fio.out" "$T/server.log" >&2 || true
    fail "pass $pass of overwriting a 64 MiB volume on a 256 MiB pool failed ($(grep -o 'NoSpace.*' "$T/server.log" | head -n 1))"
  }
  log "pass $pass: 64 MiB overwritten; pool used: $(used_bytes)"
done

before=$(used_bytes)
captive "$POOL" "$NBDSH" -u 'nbd+unix:///vol0?socket=@SOCK@' -c 'h.trim(h.get_size(), 0); h.flush()' ||
  fail "trimming the whole volume failed"
captive "$POOL" true
after=$(used_bytes)
log "trimmed the whole volume: pool used $before -> $after bytes"
[ "$after" -lt "$before" ] || fail "trimming all 64 MiB of the volume freed no pool space ($before -> $after bytes)"
pool_check
