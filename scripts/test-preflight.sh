#!/usr/bin/env bash
# scripts/test-preflight.sh: removes what an earlier test run that was killed
# left behind: its processes (nbdkit, nbdfuse, ...), FUSE connections, mounts
# and loop devices, then its directory. scripts/test.sh runs it first; it
# also runs alone.
#
# Only the tests' own directories are looked at: tessera-test.* directly
# under $TESSERA_TEST_TMPDIR (default /tmp), the names make_tmpdir
# (tests/functions.sh) and scripts/run-one-test.sh give them. A directory
# whose owner (the pid and start time in its .owner file), or the owner of a
# test directory in it, still runs belongs to a live run and is left alone,
# as is one without an owner file younger than two minutes (just being made). A directory with a .keep file
# (TESSERA_KEEP_TMP=1) is swept but kept.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
source "$src/tests/sweep.sh"
# The sweep must not count this script: run outside every test directory.
cd /

swept=0
for dir in "${TESSERA_TEST_TMPDIR:-/tmp}"/tessera-test.*; do
  [ -d "$dir" ] && [ ! -L "$dir" ] || continue
  if [ -f "$dir/.owner" ]; then
    live=0
    for owner in "$dir/.owner" "$dir"/tessera-test.*/.owner "$dir"/tessera-test.*/tessera-test.*/.owner; do
      [ -f "$owner" ] && identity_alive "$(cat "$owner")" && live=1 && break
    done
    [ "$live" -eq 0 ] || continue
  elif [ -n "$(find "$dir" -maxdepth 0 -mmin -2)" ]; then
    continue
  fi
  sweep_dir "$dir" | sed "s|^|preflight: $dir: |"
  if [ -f "$dir/.keep" ]; then
    echo "preflight: kept $dir (.keep)"
  else
    rm -rf --one-file-system "$dir"
  fi
  swept=$((swept + 1))
done
echo "preflight: swept $swept directories of earlier runs"
