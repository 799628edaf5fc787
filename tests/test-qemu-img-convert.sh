#!/usr/bin/env bash
# qemu-img: convert -n of a raw image into the export, then compare.
# The export is first filled with other random data, and the image has
# zero runs (aligned and not), so convert must overwrite and zero correctly.
# Compared again after a clean restart, and an export-to-file copy with
# nbdcopy must give back the same bytes.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd qemu-img nbdcopy cmp
make_tmpdir

new_pool 2 256M
new_volume vol0 64M
new_volume vol1 64M stripe:2
URI='nbd+unix:///VOL?socket=@SOCK@'

random_file "$T/garbage.raw" $((64 << 20))
random_file "$T/image.raw" $((64 << 20))
# Zero runs: whole megabytes, odd sub-block runs, and the last 3 MiB.
for spec in 1:1048576:0 5:1048576:1000 9:12345:777 20:4096:4096 62:3145728:0; do
  IFS=: read -r mib len skip <<<"$spec"
  dd if=/dev/zero of="$T/image.raw" conv=notrunc oflag=seek_bytes bs="$len" count=1 \
    seek=$((mib * 1048576 + skip)) status=none
done
truncate -s $((64 << 20)) "$T/image.raw"

for vol in vol0 vol1; do
  uri=${URI/VOL/$vol}
  log "$vol: convert garbage, then the image, then compare"
  captive "$POOL" qemu-img convert -n -f raw -O raw "$T/garbage.raw" "$uri" ||
    fail "$vol: qemu-img convert of the garbage image failed"
  captive "$POOL" bash -c "qemu-img convert -n -f raw -O raw '$T/image.raw' \"${uri/@SOCK@/\$SOCK}\" &&
    qemu-img compare -f raw -F raw '$T/image.raw' \"${uri/@SOCK@/\$SOCK}\"" ||
    fail "$vol: qemu-img convert + compare failed (while serving)"
done
for vol in vol0 vol1; do
  uri=${URI/VOL/$vol}
  log "$vol: after a clean restart: compare, and nbdcopy to a file"
  captive "$POOL" qemu-img compare -f raw -F raw "$T/image.raw" "$uri" ||
    fail "$vol: the export differs from the image after a restart"
  captive "$POOL" nbdcopy "$uri" "$T/copy.raw" || fail "$vol: nbdcopy from the export failed"
  cmp "$T/image.raw" "$T/copy.raw" || fail "$vol: nbdcopy of the export differs from the image"
  rm -f "$T/copy.raw"
done
pool_check
