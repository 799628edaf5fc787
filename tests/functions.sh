# tests/functions.sh: shared helpers for the end-to-end tests tests/test-*.sh.
#
# Source it first thing:   source "$(dirname "$0")/functions.sh"
#
# Design notes
#  1. Every test owns a fresh temporary directory $T (make_tmpdir), named
#     tessera-test.NAME.XXXXXX (NAME: the script's, less test-) under
#     $TESSERA_TEST_TMPDIR (default /tmp), holding an owner file (.owner:
#     the test's pid and start time). Pools, sockets, logs and mount points
#     live there, so tests never share state and only ever talk over Unix
#     sockets inside $T.
#  2. Cleanup runs from one EXIT trap (also on SIGINT and SIGTERM), in this
#     order, so that it cannot hang on a server that stopped answering:
#       a. every process of $T is killed (SIGKILL; tests/sweep.sh note 1), so
#          the server and nbdfuse are gone before anything is unmounted;
#       b. the FUSE connection of every mount under $T is aborted, which
#          fails the I/O of anything stuck in state D on it, and a frozen
#          filesystem is thawed;
#       c. the steps registered with on_exit run in the reverse order of
#          registration: umount before losetup -d before fusermount3 -u;
#          an unmount that fails falls back to umount -l;
#       d. tests/sweep.sh sweeps $T for anything still there, and $T goes.
#     Helpers register their own undo step the moment they create something.
#     A test that freezes a filesystem registers the thaw before it freezes.
#  3. Only processes of $T are ever killed: the test started them (all run
#     in $T, or name a path in it). Servers also run with --exit-with-parent.
#  4. A failing test prints the tail of every log in $T before $T goes away
#     (set TESSERA_KEEP_TMP=1 to keep $T).
#  5. Tools: require_cmd fails (never skips) on a missing tool, since
#     scripts/install-deps.sh and scripts/install-test-deps.sh install all
#     of them. Python code that imports nbd runs under /usr/bin/python3 (the
#     distribution's libnbd binding).
#  6. Exit status: 0 passed, 77 skipped (skip: the environment cannot run the
#     test, e.g. no loop devices), anything else failed.
#  7. Bounds: scripts/test.sh runs each test through scripts/run-one-test.sh,
#     under timeout -k 30 $TESSERA_TEST_TIMEOUT (default 300 s); the TERM of
#     the timeout runs the cleanup above. Wait for a long command that may
#     hang on I/O in the background (cmd & wait $!), since bash runs a trap
#     only once the foreground command returns. scripts/test-preflight.sh
#     sweeps the directories of an earlier run that was killed.

set -euo pipefail

TESSERA_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$TESSERA_SRC/tests/sweep.sh"
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$TESSERA_SRC/$BUILD_DIR
PLUGIN=$BUILD_DIR/plugin/nbdkit-tessera-plugin.so
TESSERA_BIN=$BUILD_DIR/admin/tessera
# The distribution's tools first: nbdsh runs "python3 -mnbd", and only the
# system python3 has the nbd module (a pyenv or venv python3 earlier in PATH
# has not).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
PYTHON=/usr/bin/python3
NBDSH=/usr/bin/nbdsh
TEST_NAME=$(basename "$0" .sh)
export PYTHONDONTWRITEBYTECODE=1
# Inline Python ("$PYTHON" - <<'PY', nbdsh -c) imports tests/nbd_helpers.py.
export PYTHONPATH=$TESSERA_SRC/tests${PYTHONPATH:+:$PYTHONPATH}
# The CLI must never pick up a pool from the caller's environment.
unset TESSERA_POOL

log() { echo "[$TEST_NAME] $*"; }
fail() {
  echo "FAIL [$TEST_NAME]: $*" >&2
  exit 1
}
# Records a failure and carries on, so that one run reports every problem
# (bad-input tests); the test then exits non-zero.
_soft_failures=0
soft_fail() {
  echo "FAIL [$TEST_NAME]: $*" >&2
  _soft_failures=$((_soft_failures + 1))
}
# Exits 77 (skipped, design note 6) after saying why: only for environments
# that cannot run the test.
skip() {
  echo "SKIP [$TEST_NAME]: $*"
  _skipped=1
  exit 77
}

# --- Cleanup (design note 2) ---

_cleanup_steps=()
_skipped=0
on_exit() { _cleanup_steps+=("$*"); }

_run_cleanup() {
  local rc=$?
  set +e
  # A second signal must not cut the cleanup short (it is bounded itself).
  trap - EXIT
  trap '' INT TERM
  if [ "$rc" -eq 0 ] && [ "$_soft_failures" -gt 0 ]; then
    echo "FAIL [$TEST_NAME]: $_soft_failures check(s) failed" >&2
    rc=1
  fi
  if [ "$rc" -ne 0 ] && [ -n "${T:-}" ] && [ -d "$T" ]; then
    local f
    for f in "$T"/*.log; do
      [ -s "$f" ] || continue
      echo "---- tail of $f" >&2
      tail -n 40 "$f" >&2
    done
  fi
  # Design note 2. Nothing below may run in $T: the sweep would count it.
  cd /
  local i
  if [ -n "${T:-}" ] && [ -d "$T" ]; then
    sweep_kill "$T" >/dev/null
    sweep_fuse_abort "$T" >/dev/null
    sweep_thaw "$T" >/dev/null
    sweep_wait_gone "$T" 5 || true
  fi
  for ((i = ${#_cleanup_steps[@]} - 1; i >= 0; i--)); do
    eval "${_cleanup_steps[i]}" >/dev/null 2>&1
  done
  if [ "$rc" -eq 0 ] && [ "$_skipped" -eq 0 ]; then
    echo "PASS [$TEST_NAME] (${SECONDS}s)"
  fi
  exit "$rc"
}
trap _run_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

make_tmpdir() {
  # Short: a Unix socket path ($T/pool/control.sock) has at most 107 bytes.
  T=$(mktemp -d "${TESSERA_TEST_TMPDIR:-/tmp}/tessera-test.${TEST_NAME#test-}.XXXXXX")
  process_identity $$ >"$T/.owner"
  if [ "${TESSERA_KEEP_TMP:-0}" = 1 ]; then
    touch "$T/.keep"
    on_exit "echo 'kept $T'"
  else
    on_exit "rm -rf --one-file-system '$T'"
  fi
  on_exit "sweep_dir '$T'"
  # Tools that drop files in the current directory (fio's verify state)
  # drop them here.
  cd "$T"
}

# --- Requirements ---

require_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 ||
      fail "required tool '$c' is not installed (run scripts/install-deps.sh and scripts/install-test-deps.sh)"
  done
}

require_build() {
  [ -f "$PLUGIN" ] || fail "no plugin at $PLUGIN (run scripts/build.sh, or set TESSERA_BUILD_DIR)"
  [ -x "$TESSERA_BIN" ] || fail "no CLI at $TESSERA_BIN (run scripts/build.sh, or set TESSERA_BUILD_DIR)"
  require_cmd nbdkit
  [ -x "$PYTHON" ] && "$PYTHON" -c 'import nbd' 2>/dev/null ||
    fail "$PYTHON cannot import nbd (install python3-libnbd)"
}

# Loop devices, mounts and FUSE need root and kernel support; a container may
# refuse them. Skips (exit 77, with the reason) only when they are not allowed.
require_fuse() {
  [ "$(id -u)" -eq 0 ] || skip "needs root for FUSE mounts"
  [ -e /dev/fuse ] || skip "no /dev/fuse (FUSE is not available)"
  require_cmd nbdfuse fusermount3
}

require_loop_and_fuse() {
  require_fuse
  [ -e /dev/loop-control ] || skip "no /dev/loop-control (loop devices are not available)"
  require_cmd losetup mount umount
  losetup -f >/dev/null 2>&1 || skip "losetup -f failed: no free loop device may be allocated here"
}

# --- The CLI ---

tessera() { "$TESSERA_BIN" "$@"; }

# new_pool [VDEVS [SIZE]]: a pool in $T/pool (sets POOL).
new_pool() {
  POOL=$T/pool
  tessera pool create --pool "$POOL" --vdevs "${1:-1}" --size "${2:-1G}" >"$T/pool-create.out" 2>&1 ||
    fail "tessera pool create failed: $(cat "$T/pool-create.out")"
}

# new_volume NAME SIZE [LAYOUT]
new_volume() {
  tessera volume create "$1" --pool "$POOL" --size "$2" --layout "${3:-simple}" \
    >"$T/volume-create.out" 2>&1 || fail "tessera volume create $1 failed: $(cat "$T/volume-create.out")"
}

pool_check() {
  local out
  out=$(tessera pool check --pool "$POOL" 2>&1) || fail "tessera pool check is not clean: $out"
}

# vdev_used_bytes VDEV: its used_bytes, from pool status --json.
vdev_used_bytes() {
  tessera pool status --pool "$POOL" --json | "$PYTHON" -c '
import json, sys
print(next(v["used_bytes"] for v in json.load(sys.stdin)["vdevs"] if v["name"] == sys.argv[1]))' "$1"
}

# --- Servers (design note 3) ---

# nbd_uri EXPORT [SOCKET]
nbd_uri() { echo "nbd+unix:///$1?socket=${2:-$SOCK}"; }

# start_server POOL [PLUGIN-ARGS...]: nbdkit with the plugin in the background
# on $T/nbd.sock; returns once it serves. Sets SERVER_PID and SOCK. Output
# goes to $T/server.log. With SERVER_OWN_SESSION=1 the server runs in its own
# session, out of reach of the signals sent to the test's process group (the
# SIGTERM and SIGCONT of timeout): the harness self-test's hung server. With
# SERVER_NETNS=NAME it runs in that network namespace (its Unix sockets are
# still reached from here).
start_server() {
  local pool=$1 session=()
  shift
  SOCK=$T/nbd.sock
  rm -f "$SOCK" "$T/server.pid"
  [ "${SERVER_OWN_SESSION:-0}" != 1 ] || session=(setsid)
  [ -z "${SERVER_NETNS:-}" ] || session=(ip netns exec "$SERVER_NETNS" "${session[@]}")
  echo "=== start_server $(date +%T) pool=$pool $*" >>"$T/server.log"
  "${session[@]}" nbdkit -f --exit-with-parent -U "$SOCK" -P "$T/server.pid" \
    "$PLUGIN" pool="$pool" "$@" >>"$T/server.log" 2>&1 &
  SERVER_PID=$!
  on_exit "kill_started $SERVER_PID"
  local i
  for ((i = 0; i < 300; i++)); do
    [ -s "$T/server.pid" ] && [ -S "$SOCK" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || {
      wait "$SERVER_PID" || true
      fail "nbdkit exited during startup: $(tail -n 5 "$T/server.log")"
    }
    sleep 0.1
  done
  fail "nbdkit did not start serving within 30 s"
}

# Clean shutdown (SIGTERM); fails if the server does not exit within 60 s or
# exits with an error (a server that already exited is reaped and judged by
# its exit status). nbdkit waits for connected clients before it exits.
stop_server() {
  local pid=$SERVER_PID i rc=0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
    fail "server $pid did not exit within 60 s of SIGTERM"
  fi
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "server exited with status $rc on SIGTERM: $(tail -n 5 "$T/server.log")"
  echo "=== stopped $(date +%T)" >>"$T/server.log"
}

# kill -9: the server gets no chance to flush or commit.
crash_server() {
  kill -KILL "$SERVER_PID" 2>/dev/null || fail "server $SERVER_PID is not running"
  wait "$SERVER_PID" 2>/dev/null || true
  echo "=== kill -9 $(date +%T)" >>"$T/server.log"
}

# Reaps a server that something else (a test helper) killed with SIGKILL.
reap_killed_server() {
  local rc=0
  wait "$SERVER_PID" 2>/dev/null || rc=$?
  [ "$rc" -eq 137 ] || fail "server $SERVER_PID exited with status $rc, expected death by SIGKILL"
  echo "=== killed with SIGKILL by the test $(date +%T)" >>"$T/server.log"
}

server_alive() { kill -0 "$SERVER_PID" 2>/dev/null; }

# wait_for_pidfile FILE WHAT: returns once FILE (a server's -P pid file) is
# written; fails "WHAT did not start" after 10 s.
wait_for_pidfile() {
  local n
  for ((n = 0; n < 100; n++)); do
    [ -s "$1" ] && return 0
    sleep 0.1
  done
  fail "$2 did not start"
}

# Kills a pid this test started, if it still runs, and reaps it.
kill_started() {
  local pid=$1
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    local i
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# captive POOL COMMAND [ARGS...]: runs COMMAND under nbdkit -U - with the
# plugin (nbdkit --run) and returns COMMAND's status. The text @SOCK@ in any
# argument becomes the captive server's socket, which is also exported as
# $SOCK (for bash -c '...' snippets). Server output goes to $T/server.log.
captive() {
  local pool=$1
  shift
  printf '%q ' "$@" | sed 's/@SOCK@/"$SOCK"/g' >"$T/captive.cmd"
  echo "=== captive $(date +%T) pool=$pool: $*" >>"$T/server.log"
  nbdkit -U - "$PLUGIN" pool="$pool" \
    --run "SOCK=\$unixsocket; export SOCK; exec bash -c \"\$(cat '$T/captive.cmd')\" 2>&3 3>&-" \
    3>&2 2>>"$T/server.log"
}

# --- Attaching as a file (nbdfuse) and as a block device (+ loop) ---

# attach_fuse EXPORT: presents the export as the file $T/fuse/nbd with
# nbdfuse. Sets FUSE_PID.
attach_fuse() {
  local export=$1
  mkdir -p "$T/fuse"
  rm -f "$T/fuse.pid"
  nbdfuse -P "$T/fuse.pid" "$T/fuse" "$(nbd_uri "$export")" >>"$T/nbdfuse.log" 2>&1 &
  FUSE_PID=$!
  on_exit "kill_started $FUSE_PID"
  on_exit "fusermount3 -u '$T/fuse' || sweep_umount '$T/fuse'"
  local i
  for ((i = 0; i < 200; i++)); do
    [ -s "$T/fuse.pid" ] && [ -f "$T/fuse/nbd" ] && break
    kill -0 "$FUSE_PID" 2>/dev/null || fail "nbdfuse exited: $(tail -n 5 "$T/nbdfuse.log")"
    sleep 0.1
  done
  [ -f "$T/fuse/nbd" ] || fail "nbdfuse did not present $T/fuse/nbd within 20 s"
}

# Undoes attach_fuse now: unmounts and waits for nbdfuse to exit.
detach_fuse() {
  fusermount3 -u "$T/fuse" || fail "fusermount3 -u $T/fuse failed"
  local i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$FUSE_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$FUSE_PID" 2>/dev/null && fail "nbdfuse $FUSE_PID did not exit after fusermount3 -u"
  wait "$FUSE_PID" 2>/dev/null || true
}

# attach_loop EXPORT: attach_fuse, then a loop device over $T/fuse/nbd.
# Sets LOOP_DEV and FUSE_PID.
attach_loop() {
  attach_fuse "$1"
  LOOP_DEV=$(losetup -f --show "$T/fuse/nbd") || fail "losetup -f --show $T/fuse/nbd failed"
  on_exit "losetup -d '$LOOP_DEV'"
}

# Undoes attach_loop now (the exit-time steps then find nothing to do).
detach_loop() {
  blockdev --flushbufs "$LOOP_DEV" 2>/dev/null || true
  losetup -d "$LOOP_DEV" || fail "losetup -d $LOOP_DEV failed"
  # losetup -d is asynchronous: wait until the loop device lets go of the file.
  local i
  for ((i = 0; i < 100; i++)); do
    losetup -j "$T/fuse/nbd" 2>/dev/null | grep -q . || break
    sleep 0.1
  done
  detach_fuse
}

# --- Data helpers ---

# random_file PATH BYTES
random_file() { head -c "$2" /dev/urandom >"$1"; }

# fio_verify_served VOLUME [EXTRA-FIO-ARGS...]: fio (nbd engine) writes
# VOLUME through the running server ($SOCK) with 4 jobs of queue depth 8,
# each over its own 16 MiB, 16 MiB apart, and verifies every block
# (crc32c). Extra arguments come last, so they override (--size=12M,
# --rw=write, --verify_only=1). fio's report is $T/fio-VOLUME.out; on a
# failure its complaints are printed.
fio_verify_served() {
  local volume=$1
  shift
  fio --name=verify --ioengine=nbd --uri="nbd+unix:///$volume?socket=$SOCK" \
    --rw=randwrite --bssplit=4k/50:64k/50 --size=16M --numjobs=4 --offset_increment=16M \
    --iodepth=8 --verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=1 \
    --group_reporting --output="$T/fio-$volume.out" "$@" >"$T/fio-$volume.log" 2>&1 || {
    grep -Ei 'verify|err|bad' "$T/fio-$volume.out" "$T/fio-$volume.log" 2>/dev/null | head -n 20
    return 1
  }
  grep -q 'err= 0' "$T/fio-$volume.out"
}

# churn_until DONE-FILE COMMAND...: runs COMMAND (a write-and-verify pass)
# over and over in the background, at least twice and until DONE-FILE
# exists, so that passes span a change made meanwhile. CHURN_PID is the
# loop (its status is non-zero once a pass failed); $T/fio-passes counts
# the passes.
churn_until() {
  local done_file=$1
  shift
  (
    pass=0
    while ((pass < 2)) || [ ! -e "$done_file" ]; do
      "$@" || exit 1
      echo $((++pass)) >"$T/fio-passes"
    done
  ) &
  CHURN_PID=$!
  on_exit "kill_started $CHURN_PID"
}

# expect_flip_caught URI COMMAND...: flips a byte of the first block of the
# export at URI, then COMMAND (a verify-only pass over it) must fail: the
# test's check can fail.
expect_flip_caught() {
  local uri=$1
  shift
  "$NBDSH" -u "$uri" -c '
b = bytearray(h.pread(4096, 0)); b[100] ^= 0xff; h.pwrite(bytes(b), 0); h.flush()' ||
    fail "nbdsh could not flip a byte"
  if "$@" >/dev/null 2>&1; then
    fail "$* passed over a flipped byte: the check cannot fail"
  fi
}

# expect_fail DESCRIPTION COMMAND...: COMMAND must exit non-zero; its
# combined output is left in $EXPECT_OUT.
expect_fail() {
  local what=$1
  shift
  EXPECT_STATUS=0
  EXPECT_OUT=$("$@" 2>&1) || EXPECT_STATUS=$?
  [ "$EXPECT_STATUS" -ne 0 ] || fail "$what: expected a failure, but it succeeded: $EXPECT_OUT"
}

# expect_match DESCRIPTION REGEX TEXT
expect_match() {
  grep -Eq -- "$2" <<<"$3" || fail "$1: expected output matching /$2/, got: $3"
}

# --- Filesystems ---

# mount_fs DEV DIR [OPTIONS]: mounts and registers the unmount.
mount_fs() {
  mkdir -p "$2"
  mount ${3:+-o "$3"} "$1" "$2" || fail "mount $1 $2 failed"
  on_exit "sweep_umount '$2'"
}

umount_fs() { umount "$1" || fail "umount $1 failed"; }

# fsck_clean FSTYPE DEV: a read-only check that must find nothing.
fsck_clean() {
  local out rc=0
  case $1 in
    ext4) out=$(e2fsck -fn "$2" 2>&1) || rc=$? ;;
    xfs) out=$(xfs_repair -n "$2" 2>&1) || rc=$? ;;
    *) fail "fsck_clean: unknown filesystem $1" ;;
  esac
  [ "$rc" -eq 0 ] || fail "fsck of $1 on $2 is not clean (status $rc): $out"
}

# fill_fs DIR: a tree of files: small, unaligned, large, sparse; a symlink
# and a hard link.
fill_fs() {
  local dir=$1 i
  mkdir -p "$dir/a/b/c" "$dir/many"
  for ((i = 0; i < 30; i++)); do
    head -c $((RANDOM * 37 + i)) /dev/urandom >"$dir/a/file$i"
  done
  for ((i = 0; i < 300; i++)); do
    head -c $((RANDOM % 8192 + 1)) /dev/urandom >"$dir/many/f$i"
  done
  head -c $((24 << 20)) /dev/urandom >"$dir/a/b/big"
  truncate -s $((40 << 20)) "$dir/a/b/c/sparse"
  head -c 100000 /dev/urandom | dd of="$dir/a/b/c/sparse" bs=4096 seek=5000 conv=notrunc status=none
  ln -s ../a/file1 "$dir/many/link"
  ln "$dir/a/file2" "$dir/a/b/hardlink"
}

# sums DIR: sha256 of every file, by relative path.
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

# fs_roundtrip FSTYPE VOLSIZE clean|kill: the filesystem test. mkfs on the
# volume attached through nbdfuse + loop, fill it and record checksums,
# unmount and detach, restart the server (clean stop, or kill -9 after the
# unmount's flushes), attach again: fsck is clean, the checksums match, and
# files written in a second round survive another restart.
fs_roundtrip() {
  local fstype=$1 size=$2 stop=$3
  require_build
  require_loop_and_fuse
  require_cmd "mkfs.$fstype" sha256sum blockdev
  case $fstype in ext4) require_cmd e2fsck ;; xfs) require_cmd xfs_repair ;; esac
  make_tmpdir
  new_pool 1 1G
  new_volume vol0 "$size"

  start_server "$POOL"
  attach_loop vol0
  log "mkfs.$fstype on $LOOP_DEV (nbdfuse $T/fuse/nbd)"
  case $fstype in
    ext4) mkfs.ext4 -q -F "$LOOP_DEV" >"$T/mkfs.out" 2>&1 ;;
    xfs) mkfs.xfs -q -f "$LOOP_DEV" >"$T/mkfs.out" 2>&1 ;;
  esac || fail "mkfs.$fstype failed: $(cat "$T/mkfs.out")"
  mount_fs "$LOOP_DEV" "$T/mnt"
  log "writing files"
  fill_fs "$T/mnt"
  sums "$T/mnt" >"$T/sums"
  [ "$(wc -l <"$T/sums")" -gt 300 ] || fail "the file tree was not written"
  umount_fs "$T/mnt"
  detach_loop
  if [ "$stop" = kill ]; then
    log "kill -9 the server after unmount"
    crash_server
  else
    log "clean server restart"
    stop_server
  fi

  start_server "$POOL"
  attach_loop vol0
  fsck_clean "$fstype" "$LOOP_DEV"
  mount_fs "$LOOP_DEV" "$T/mnt"
  sums "$T/mnt" >"$T/sums.after"
  cmp -s "$T/sums" "$T/sums.after" ||
    fail "checksums differ after the restart: $(diff "$T/sums" "$T/sums.after" | head -n 10)"
  log "checksums match; a second round of writes and deletes"
  rm -rf "$T/mnt/many"
  head -c $((8 << 20)) /dev/urandom >"$T/mnt/a/second"
  sums "$T/mnt" >"$T/sums"
  umount_fs "$T/mnt"
  fsck_clean "$fstype" "$LOOP_DEV"
  detach_loop
  stop_server

  start_server "$POOL"
  attach_loop vol0
  fsck_clean "$fstype" "$LOOP_DEV"
  mount_fs "$LOOP_DEV" "$T/mnt" ro
  sums "$T/mnt" >"$T/sums.after"
  cmp -s "$T/sums" "$T/sums.after" ||
    fail "checksums differ after the second restart: $(diff "$T/sums" "$T/sums.after" | head -n 10)"
  umount_fs "$T/mnt"
  detach_loop
  stop_server
  pool_check
}
