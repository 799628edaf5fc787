#!/usr/bin/env bash
# Filesystem: ext4 on a volume attached through nbdfuse + a loop device.
# mkfs, write files and record sha256sums, unmount, detach, clean server
# restart, attach: e2fsck -fn is clean and the checksums match; a second
# round of changes survives another restart. Needs root (skips otherwise).
source "$(dirname "$0")/functions.sh"
fs_roundtrip ext4 256M clean
