#!/usr/bin/env bash
# scripts/run-one-test.sh TEST.sh: runs one end-to-end test with a bound and
# makes sure it leaves nothing behind; scripts/test.sh runs every test
# through it. Exit status: the test's (0 passed, 77 skipped), 124 when it
# ran out of time, 1 when it passed but left something behind, 130 when this
# script was interrupted.
#
#  1. The test runs under timeout -k 30 $TESSERA_TEST_TIMEOUT (seconds,
#     default 300): SIGTERM at the bound (its EXIT trap cleans up, see
#     tests/functions.sh design note 2), SIGKILL 30 s later.
#  2. It runs in a run directory of its own, tessera-test.run.XXXXXX under
#     $TESSERA_TEST_TMPDIR (default /tmp), where make_tmpdir puts its $T. The
#     directory has an owner file, so that scripts/test-preflight.sh can tell
#     a live run from one that was killed.
#  3. Afterwards tests/sweep.sh sweeps the run directory: a process, mount or
#     loop device still there is reported (and a passing test fails), then
#     removed, and the directory goes (TESSERA_KEEP_TMP=1 keeps it).
#  4. SIGINT or SIGTERM to this script reaches the test (timeout runs it in
#     a process group of its own, which a Ctrl-C at the terminal misses).
set -euo pipefail
[ $# -eq 1 ] || {
  echo "usage: $0 TEST.sh" >&2
  exit 2
}
test_script=$1
src=$(cd "$(dirname "$0")/.." && pwd)
source "$src/tests/sweep.sh"
bound=${TESSERA_TEST_TIMEOUT:-300}
name=$(basename "$test_script" .sh)

run_dir=$(mktemp -d "${TESSERA_TEST_TMPDIR:-/tmp}/tessera-test.run.XXXXXX")
process_identity $$ >"$run_dir/.owner"
[ "${TESSERA_KEEP_TMP:-0}" != 1 ] || touch "$run_dir/.keep"

TESSERA_TEST_TMPDIR=$run_dir timeout -k 30 "$bound" bash "$test_script" &
timeout_pid=$!
interrupted=0
trap 'interrupted=1; kill -TERM "$timeout_pid" 2>/dev/null || true' INT TERM HUP
rc=0
# wait returns early (status > 128) when a trapped signal arrives; wait
# again until timeout itself has exited.
while :; do
  wait "$timeout_pid" && rc=0 || rc=$?
  kill -0 "$timeout_pid" 2>/dev/null || break
done
trap - INT TERM HUP
case $rc in
  124 | 137) echo "TIMEOUT [$name]: still running after the ${bound}s bound (status $rc)" >&2 ;;
esac

left=$(sweep_leftovers "$run_dir")
if [ -n "$left" ]; then
  echo "LEFT BEHIND by [$name]:" >&2
  echo "$left" | sed 's/^/  /' >&2
  sweep_dir "$run_dir" >&2
  left=$(sweep_leftovers "$run_dir")
  [ -z "$left" ] || echo "still there after the sweep: $left" >&2
  [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || rc=1
fi
if [ "${TESSERA_KEEP_TMP:-0}" = 1 ]; then
  echo "kept $run_dir"
else
  rm -rf --one-file-system "$run_dir"
fi
[ "$interrupted" -eq 0 ] || exit 130
exit "$rc"
