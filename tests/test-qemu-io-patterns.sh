#!/usr/bin/env bash
# qemu-io: write -P patterns at several offsets (aligned, odd, straddling
# blocks, against the end of the export), concurrent aio writes, write -z and
# discard; read -P checks every range in a new connection and again after a
# clean restart. A read -P of a wrong pattern must fail (the check can fail).
source "$(dirname "$0")/functions.sh"
require_build
require_cmd qemu-io
make_tmpdir

new_pool 1 256M
new_volume vol0 64M
URI='nbd+unix:///vol0?socket=@SOCK@'
END=$((64 << 20))

# qemu_io CMD...: qemu-io -c CMD... on the export; fails on a non-zero status
# or on any failure message (qemu-io's status only reflects some failures).
qemu_io() {
  local args=() c
  for c in "$@"; do args+=(-c "$c"); done
  captive "$POOL" qemu-io -f raw "$URI" "${args[@]}" >"$T/qemu-io.out" 2>&1 || {
    cat "$T/qemu-io.out"
    return 1
  }
  if grep -Eiq 'fail|error' "$T/qemu-io.out"; then
    cat "$T/qemu-io.out"
    return 1
  fi
}

writes=(
  'write -P 0xa1 0 65536'
  'write -P 0xb2 1000 12345'
  'write -P 0xc3 131071 2'
  'write -P 0xd4 1048576 1048576'
  "write -P 0xe5 $((END - 4096 - 17)) 4113"
  'write -P 0x15 33554432 1048576'
  'aio_write -P 0x26 8388608 65536'
  'aio_write -P 0x37 8454144 65536'
  'aio_write -P 0x48 8519680 1000'
  'aio_flush'
  'write -z 33554432 65536'
  'write -z 33620000 5000'
  'discard 34078720 65536'
  'flush'
)
reads=(
  'read -P 0xa1 0 1000'
  'read -P 0xb2 1000 12345'
  'read -P 0xa1 13345 52191'
  'read -P 0xc3 131071 2'
  'read -P 0xd4 1048576 1048576'
  "read -P 0xe5 $((END - 4096 - 17)) 4113"
  'read -P 0x26 8388608 65536'
  'read -P 0x37 8454144 65536'
  'read -P 0x48 8519680 1000'
  'read -P 0 8520680 1000'
  'read -P 0 33554432 65536'
  'read -P 0x15 33619968 32'
  'read -P 0 33620000 5000'
  'read -P 0x15 33625000 453720'
  'read -P 0 34078720 65536'
  'read -P 0x15 34144256 458752'
  'read -P 0 65536 65535'
  'read -P 0 131073 916927'
  'read -P 0 2097152 6291456'
)

log "write patterns"
qemu_io "${writes[@]}" || fail "qemu-io writes failed"
log "read them back in a new connection"
qemu_io "${reads[@]}" || fail "qemu-io pattern check failed"
log "a wrong pattern is detected"
if qemu_io 'read -P 0xa2 0 512' >/dev/null; then
  fail "qemu-io read -P with a wrong pattern passed: the check cannot fail"
fi
log "overwrite part of it, then check everything after a clean restart"
qemu_io 'write -P 0xf6 1048000 2000' || fail "qemu-io overwrite failed"
qemu_io "${reads[@]:0:4}" 'read -P 0xf6 1048000 2000' 'read -P 0xd4 1050000 1047152' \
  "${reads[@]:5}" || fail "qemu-io pattern check after restart failed"
pool_check
