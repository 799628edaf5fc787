#!/usr/bin/env bash
# Filesystem: XFS on a volume attached through nbdfuse + a loop device.
# mkfs, write files and record sha256sums, unmount (which flushes), detach,
# then kill -9 the server; restart, attach: xfs_repair -n is clean and the
# checksums match; a second round of changes survives a clean restart.
# Needs root (skips otherwise).
source "$(dirname "$0")/functions.sh"
fs_roundtrip xfs 512M kill
