#!/usr/bin/env bash
# scripts/run.sh as a first-time user meets it. Started from a directory of
# its own ($T) with a fresh TESSERA_POOL and the existing build
# (TESSERA_BUILD_DIR), it creates the pool and serves it; each command it
# prints is taken from its output and run as printed, in $T (a shell where
# it was started), bounded. The only changes: the placeholders DEVICE and
# /dev/loopN become the device, /mnt and /tmp/VOLUME become directories in
# $T, and fio runs 2 s instead of 20. Not run: qemu-system-x86_64 (a VM)
# and scripts/bench.sh (minutes of benchmarks; its path must exist). The
# attach and nbdfuse + loop lines need root, FUSE and loop devices; without
# them they are only reported as not run. Ctrl-C (SIGINT) stops the server
# cleanly; the "again" command it prints then reuses the pool, over TCP with
# TLS as well (TESSERA_LISTEN=127.0.0.1:0), and the nbds:// URI printed
# answers; SIGTERM stops it cleanly, and the pool checks clean.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd nbdinfo qemu-img fio mkfs.ext4 mountpoint
make_tmpdir
POOL=$T/pool
SOCK=$POOL/nbd.sock
URI=$(nbd_uri vol0)
[ -e "$TESSERA_SRC/var" ] && var_before=1 || var_before=0

# start_run LOG [VAR=VALUE...]: scripts/run.sh (the path in $RUN_SH) in the
# background from $T, with the test pool and build; sets RUN_PID, which
# becomes the server's (run.sh and tessera serve exec).
start_run() {
  local log=$1
  shift
  env TESSERA_POOL="$POOL" TESSERA_BUILD_DIR="$BUILD_DIR" TESSERA_VDEV_SIZE=2G \
    TESSERA_VOLUME_SIZE=1G "$@" "$RUN_SH" >"$T/$log" 2>&1 &
  RUN_PID=$!
  on_exit "kill_started $RUN_PID"
}

# wait_served LOG: until vol0 answers on the socket (the first run builds:
# a stale build takes a while), or run.sh exits.
wait_served() {
  local i
  for ((i = 0; i < 2000; i++)); do
    [ -S "$SOCK" ] && timeout 10 nbdinfo --size "$URI" >/dev/null 2>&1 && return 0
    kill -0 "$RUN_PID" 2>/dev/null || fail "scripts/run.sh exited before serving: $(tail -n 20 "$T/$1")"
    sleep 0.1
  done
  fail "scripts/run.sh did not serve within 200 s: $(tail -n 20 "$T/$1")"
}

# stop_run SIGNAL: the server must exit within 60 s with status 0 (or 130
# for SIGINT, the shell's status for death by Ctrl-C).
stop_run() {
  local i rc=0
  kill "-$1" "$RUN_PID"
  for ((i = 0; i < 600; i++)); do
    kill -0 "$RUN_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$RUN_PID" 2>/dev/null && fail "the server did not stop within 60 s of SIG$1"
  wait "$RUN_PID" || rc=$?
  [ "$rc" -eq 0 ] || { [ "$1" = INT ] && [ "$rc" -eq 130 ]; } ||
    fail "the server exited with status $rc on SIG$1"
}

# printed LOG REGEX: the first line of the banner run.sh printed (between the
# ==== rules) that matches REGEX, without its indent; a line ending in a
# backslash is joined with the next.
printed() {
  local line
  line=$(RE=$2 awk '
    /^====/ { inside = !inside; next }
    inside && (joining || $0 ~ ENVIRON["RE"]) {
      sub(/^ +/, ""); joined = joined $0
      if (joined ~ /\\$/) { sub(/\\$/, "", joined); joining = 1; next }
      print joined; exit
    }' "$T/$1")
  [ -n "$line" ] || fail "scripts/run.sh printed no line matching /$2/: $(cat "$T/$1")"
  echo "$line"
}

# run_printed NAME SECONDS COMMAND-LINE: runs the line with bash in $T,
# bounded; its output goes to $T/NAME.log (and $OUT); fails unless it
# succeeds.
run_printed() {
  local name=$1 bound=$2 line=$3 rc=0
  log "  \$ $line"
  (cd "$T" && exec timeout -k 5 "$bound" bash -c "$line") </dev/null >"$T/$name.log" 2>&1 &
  wait $! || rc=$?
  OUT=$(cat "$T/$name.log")
  [ "$rc" -eq 0 ] || fail "the printed command failed (status $rc): $line
$OUT"
}

RUN_SH=$TESSERA_SRC/scripts/run.sh
log "scripts/run.sh, first run, from $T"
start_run run1.log
wait_served run1.log
grep -q "install-deps: all .* packages present" "$T/run1.log" ||
  fail "install-deps.sh did more than check (or said nothing): $(head -n 5 "$T/run1.log")"
grep -q "^Serving pool $POOL\$" "$T/run1.log" || fail "run.sh does not name the pool: $(cat "$T/run1.log")"

log "nbdinfo"
line=$(printed run1.log '^  nbdinfo ')
run_printed nbdinfo 30 "$line"
expect_match "nbdinfo" "export-size: $((1 << 30))" "$OUT"

log "the volume commands (through the control socket while serving)"
line=$(printed run1.log '^Volumes: ')
line=${line#Volumes: }
cli=${line%% volume *}
subs=${line#* volume }
pool_arg=${subs#* }
subs=${subs%% *}
IFS='|' read -r -a sub_list <<<"$subs"
[ "${#sub_list[@]}" -ge 4 ] || fail "no volume subcommands in: $line"
for sub in "${sub_list[@]}"; do
  run_printed "volume-$sub-help" 30 "$cli volume $sub --help"
done
run_printed volume-list 30 "$cli volume list $pool_arg"
expect_match "volume list" "^vol0 " "$OUT"
run_printed volume-info 30 "$cli volume info vol0 $pool_arg"
run_printed volume-create 30 "$cli volume create vol1 --size 64M $pool_arg"
timeout 10 nbdinfo --list "nbd+unix:///?socket=$SOCK" | grep -q 'export="vol1"' ||
  fail "vol1, created with the printed --pool, is not served"

# The block-device lines need root, FUSE and loop devices.
can_loop=0
if [ "$(id -u)" -eq 0 ] && [ -e /dev/fuse ] && [ -e /dev/loop-control ] && losetup -f >/dev/null 2>&1; then
  can_loop=1
fi

if [ "$can_loop" -eq 1 ]; then
  log "tessera attach, mkfs, mount, umount, detach"
  attach=$(printed run1.log ' attach vol0 ')
  on_exit "'$TESSERA_BIN' detach vol0 --pool '$POOL'"
  run_printed attach 60 "$attach"
  dev=$(grep -o '^/dev/[a-z]*[0-9]*$' <<<"$OUT") || fail "attach printed no device: $OUT"
  [ -b "$dev" ] || fail "attach printed '$dev', not a block device"
  mkdir -p "$T/mnt"
  on_exit "sweep_umount '$T/mnt'"
  line=$(printed run1.log '^  mkfs\.ext4 DEVICE ')
  line=${line//DEVICE/$dev}
  run_printed mkfs 120 "${line/% \/mnt/ $T/mnt}"
  mountpoint -q "$T/mnt" || fail "the printed mkfs && mount line mounted nothing on $T/mnt"
  random_file "$T/mnt/file" $((1 << 20))
  line=$(printed run1.log '^  umount /mnt ')
  run_printed umount 60 "${line/#umount \/mnt /umount $T/mnt }"
  mountpoint -q "$T/mnt" && fail "the printed umount line left $T/mnt mounted"
  losetup -a | grep -q "$POOL" && fail "a loop device still refers to the pool after the printed detach: $(losetup -a)"
else
  log "attach needs root, /dev/fuse and a free loop device: not run here"
fi

log "qemu-img"
line=$(printed run1.log '^  qemu-img info ')
run_printed qemu-img-info 30 "$line"
expect_match "qemu-img info" "virtual size: 1 GiB" "$OUT"
random_file "$T/disk.img" $((1 << 20))
line=$(printed run1.log '^  qemu-img convert ')
run_printed qemu-img-convert 60 "$line"
timeout 30 "$NBDSH" -u "$URI" -c "
assert h.pread($((1 << 20)), 0) == open('$T/disk.img', 'rb').read(), 'disk.img is not at the start of vol0'" ||
  fail "qemu-img convert did not put disk.img at the start of vol0"
if command -v qemu-system-x86_64 >/dev/null; then
  log "  qemu-system-x86_64 boots a VM: not run"
else
  log "  qemu-system-x86_64 is not installed: not run"
fi

if [ "$can_loop" -eq 1 ]; then
  log "nbdfuse + loop by hand, the lines pasted together"
  on_exit "fusermount3 -u '$T/fuse' || sweep_umount '$T/fuse'"
  mkdir -p "$T/fuse"
  # Every line from the nbdfuse one to the one that takes it apart.
  block=$(awk '/^  mkdir -p \/tmp\/vol0 && nbdfuse /, /^  losetup -d / { sub(/^ +/, ""); print }' "$T/run1.log" |
    grep -v '^losetup -d ')
  grep -q '^losetup -f --show /tmp/vol0/nbd' <<<"$block" || fail "no nbdfuse + losetup lines printed: $block"
  run_printed nbdfuse 60 "${block//\/tmp\/vol0/$T/fuse}"
  loop=$(grep -o '^/dev/loop[0-9]*' <<<"$OUT") || fail "losetup printed no loop device: $OUT"
  # Only while it is still ours: a freed loop device may be another's by then.
  on_exit "losetup '$loop' | grep -qF '$T/fuse/nbd' && losetup -d '$loop'"
  cmp -n $((1 << 20)) "$T/disk.img" "$loop" >/dev/null 2>&1 ||
    fail "$loop does not read what qemu-img convert wrote"
  line=$(printed run1.log '^  losetup -d /dev/loopN ')
  line=${line//\/dev\/loopN/$loop}
  run_printed nbdfuse-apart 60 "${line//\/tmp\/vol0/$T/fuse}"
  mountpoint -q "$T/fuse" && fail "the printed line left $T/fuse mounted"
else
  log "nbdfuse + loop needs root, /dev/fuse and a free loop device: not run here"
fi

log "fio"
line=$(printed run1.log '^  fio --name=')
run_printed fio 60 "${line/--runtime=20/--runtime=2}"
expect_match "fio" "err= 0" "$OUT"
line=$(printed run1.log "^  URI=.* fio ")
run_printed fio-job 60 "${line/RUNTIME=20/RUNTIME=2}"
expect_match "fio job file" "err= 0" "$OUT"
bench=$(printed run1.log ' --quick ')
bench=${bench%% *}
(cd "$T" && [ -x "$bench" ]) || fail "the printed $bench is not a program (from $T)"

log "Ctrl-C stops the server"
stop_run INT
pool_check
again=$(printed run1.log '^Ctrl-C stops the server; ')
again=${again#Ctrl-C stops the server; }
RUN_SH=${again%% again reuses the pool.}
[[ $RUN_SH == /* ]] || RUN_SH=$T/$RUN_SH
[ -x "$RUN_SH" ] || fail "the printed '${again%% *}' is not a program (from $T)"

log "scripts/run.sh again, as printed, with TESSERA_LISTEN=127.0.0.1:0"
start_run run2.log TESSERA_LISTEN=127.0.0.1:0
wait_served run2.log
grep -q "^run: reusing the pool in $POOL\$" "$T/run2.log" || fail "the second run made a new pool: $(cat "$T/run2.log")"
grep -q "^run: made the TLS pre-shared key $POOL/tls.psk" "$T/run2.log" ||
  fail "the second run made no TLS key: $(cat "$T/run2.log")"
nbds=$(grep -o "nbds://[^ ]*/vol0?[^ ]*" "$T/run2.log" | head -n 1)
[ -n "$nbds" ] || fail "no nbds:// URI for vol0 printed: $(cat "$T/run2.log")"
run_printed nbdinfo-tls 30 "nbdinfo '$nbds'"
expect_match "nbdinfo over TLS" "export-size: $((1 << 30))" "$OUT"
timeout 10 nbdinfo --list "nbd+unix:///?socket=$SOCK" | grep -q 'export="vol1"' ||
  fail "vol1 is not served after the restart"
stop_run TERM
pool_check
[ "$var_before" -eq 1 ] || [ ! -e "$TESSERA_SRC/var" ] || fail "scripts/run.sh made $TESSERA_SRC/var, not using TESSERA_POOL"
