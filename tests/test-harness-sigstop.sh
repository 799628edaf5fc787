#!/usr/bin/env bash
# The harness itself: a test whose server hangs (tests/harness/hung-server.sh:
# ext4 over nbdfuse + loop, a writer with fsync, SIGSTOP to nbdkit in the
# middle) runs through scripts/run-one-test.sh, as scripts/test.sh runs every
# test, with a bound of 20 s. It must fail by its time bound, finish its own
# cleanup within a few seconds of the SIGTERM (not need the SIGKILL that
# timeout -k sends 30 s later), and leave no mount, loop device or process
# behind, without the wrapper's sweep having to remove any.
source "$(dirname "$0")/functions.sh"
require_build
require_loop_and_fuse
require_cmd mkfs.ext4 timeout
make_tmpdir
# The hung test's directories go in a directory of their own, R, to be
# checked afterwards; directly in /tmp, since its socket paths must stay
# under 108 bytes. R is a test directory too (tessera-test.*, with an owner).
R=$(mktemp -d /tmp/tessera-test.XXXXXX)
process_identity $$ >"$R/.owner"
on_exit "rm -rf --one-file-system '$R'"
on_exit "sweep_dir '$R'"

bound=20
log "the hung test, with TESSERA_TEST_TIMEOUT=$bound"
start=$SECONDS
rc=0
TESSERA_TEST_TIMEOUT=$bound TESSERA_TEST_TMPDIR=$R TESSERA_KEEP_TMP=0 \
  "$TESSERA_SRC/scripts/run-one-test.sh" "$TESSERA_SRC/tests/harness/hung-server.sh" \
  >"$T/inner.log" 2>&1 &
wait $! || rc=$?
took=$((SECONDS - start))
log "it ended with status $rc after ${took}s"

grep -q "the writer is stuck" "$T/inner.log" || fail "the hung test did not get as far as a stuck writer (status $rc)"
[ "$rc" -eq 124 ] || fail "the hung test ended with status $rc, expected 124 (its time bound)"
grep -q "^TIMEOUT \[hung-server\]" "$T/inner.log" || fail "run-one-test.sh did not report the timeout"
[ "$took" -le $((bound + 15)) ] ||
  fail "the hung test took ${took}s: its cleanup did not finish within 15 s of the SIGTERM at ${bound}s"
! grep -q "^LEFT BEHIND" "$T/inner.log" || fail "the hung test's cleanup left something behind (the wrapper swept it)"

# Independently of tests/sweep.sh: nothing of the hung test is left.
! grep -q " $R/" /proc/mounts || fail "a mount is left: $(grep " $R/" /proc/mounts)"
! losetup -l -n -O NAME,BACK-FILE | grep -q " $R/" || fail "a loop device is left: $(losetup -a | grep "$R/")"
left=$(pgrep -a -f "$R/" || true)
[ -z "$left" ] || fail "processes are left: $left"
for d in /proc/[0-9]*; do
  case $(readlink "$d/cwd" 2>/dev/null) in
    "$R"/*) fail "process ${d#/proc/} is left in $(readlink "$d/cwd"): $(tr '\0' ' ' <"$d/cmdline")" ;;
  esac
done
[ -z "$(ls "$R")" ] || fail "the run directory is left: $(ls "$R")"
