# tests/sweep.sh: removes what a test left under its directory: processes,
# stuck FUSE connections, mounts and loop devices. A library of functions
# with no side effect when sourced; sourced by tests/functions.sh (a test's
# own cleanup), scripts/run-one-test.sh (after each test) and
# scripts/test-preflight.sh (after an earlier run that was killed).
#
# Design notes
#  1. Scope: only what belongs to DIR is touched: processes whose working
#     directory is under DIR or whose command line names a path under DIR,
#     mounts whose mount point is under DIR, loop devices whose backing file
#     is under DIR. The caller and its ancestors are never killed. DIR must
#     be named tessera-test.* (_sweep_scope refuses anything else).
#  2. Order (sweep_dir): kill the processes (SIGKILL, which also ends a
#     stopped process), abort the FUSE connections of mounts under DIR, thaw
#     a frozen filesystem, then unmount the other filesystems, detach the loop devices, and unmount the
#     FUSE mounts last. A process in state D that writes to a FUSE file whose
#     server no longer answers moves only once the connection is aborted (or
#     its FUSE daemon dies), so nothing is unmounted before that.
#  3. Every unmount that fails or does not finish within 10 s falls back to a
#     lazy unmount (umount -l), which always detaches the mount point.
#  4. The connection of a FUSE mount is /sys/fs/fuse/connections/N, where N
#     is the minor number of the mount's device in /proc/self/mountinfo. When
#     fusectl is not mounted there, it is mounted for the abort and unmounted
#     again.
#  5. Each thing found is printed on stdout as "sweep: ...", and counted in
#     SWEEP_FOUND, so that a caller can tell a clean directory from one that
#     something was left in.

SWEEP_FUSECTL=/sys/fs/fuse/connections
SWEEP_FOUND=0

_sweep_say() {
  echo "sweep: $*"
  SWEEP_FOUND=$((SWEEP_FOUND + 1))
}

# _sweep_stat PID: sets _SWEEP_STATE, _SWEEP_PPID and _SWEEP_START (the
# fields of /proc/PID/stat after the command name, which may hold spaces).
_sweep_stat() {
  local s f
  { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
  s=${s##*) }
  read -r -a f <<<"$s"
  _SWEEP_STATE=${f[0]}
  _SWEEP_PPID=${f[1]}
  _SWEEP_START=${f[19]}
}

# process_identity PID: "PID STARTTIME", which names a process even after its
# pid is reused (for owner files).
process_identity() {
  _sweep_stat "$1" || return 1
  echo "$1 $_SWEEP_START"
}

# identity_alive "PID STARTTIME": whether that very process still runs.
identity_alive() {
  local pid start
  read -r pid start <<<"$1"
  [ -n "$pid" ] && _sweep_stat "$pid" && [ "$_SWEEP_START" = "$start" ] && [ "$_SWEEP_STATE" != Z ]
}

# _sweep_scope DIR: whether DIR may be swept: an absolute path named
# tessera-test.* (make_tmpdir, scripts/run-one-test.sh). A guard against a
# wrong argument: a sweep of /tmp would kill every process that names a file
# in /tmp.
_sweep_scope() {
  local d=${1%/}
  [[ $d == /* && ${d##*/} == tessera-test.* ]] && return 0
  echo "sweep: refusing $1, which is not a test directory (tessera-test.*)" >&2
  return 1
}

# sweep_pids DIR: the processes of DIR (note 1), one pid a line.
sweep_pids() {
  _sweep_scope "$1" || return 0
  local dir=${1%/}/ p pid link cwd args
  local -A skip=()
  pid=$BASHPID
  while [ "${pid:-0}" -gt 1 ] && _sweep_stat "$pid"; do
    skip[$pid]=1
    pid=$_SWEEP_PPID
  done
  # Working directories: one find for all the processes.
  while read -r link cwd; do
    [[ $cwd/ == "$dir"* ]] || continue
    pid=${link#/proc/}
    pid=${pid%/cwd}
    [ -z "${skip[$pid]:-}" ] || continue
    skip[$pid]=1
    echo "$pid"
  done < <(find /proc/[0-9]*/cwd -maxdepth 0 -printf '%p %l\n' 2>/dev/null)
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [ -z "${skip[$pid]:-}" ] || continue
    { mapfile -d '' -t args <"$p/cmdline"; } 2>/dev/null || continue
    [[ "${args[*]}" == *"$dir"* ]] && echo "$pid"
  done
  return 0
}

# sweep_kill DIR: SIGKILL to every process of DIR.
sweep_kill() {
  local pid comm
  for pid in $(sweep_pids "$1"); do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
    kill -KILL "$pid" 2>/dev/null && _sweep_say "killed $pid ($comm)"
  done
  return 0
}

# sweep_wait_gone DIR SECONDS: waits until no process of DIR is left (a
# killed process in state D dies only once its I/O fails).
sweep_wait_gone() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    [ -z "$(sweep_pids "$1")" ] && return 0
    sleep 0.1
  done
  return 1
}

# _sweep_mounts DIR: "FSTYPE MINOR MOUNTPOINT" for each mount under DIR,
# deepest first.
_sweep_mounts() {
  _sweep_scope "$1" || return 0
  local dir=${1%/}/ id parent majmin root mnt rest fstype
  while read -r id parent majmin root mnt rest; do
    [[ $mnt/ == "$dir"* ]] || continue
    fstype=${rest#* - }
    fstype=${fstype%% *}
    echo "${#mnt} $fstype ${majmin#*:} $mnt"
  done </proc/self/mountinfo | sort -rn | cut -d' ' -f2-
}

_sweep_is_fuse() { [[ $1 == fuse || $1 == fuse.* ]]; }

# sweep_fuse_abort DIR: aborts the connection of every FUSE mount under DIR
# (note 4): its pending and future requests fail at once.
sweep_fuse_abort() {
  local fstype minor mnt mounted_here=0
  while read -r fstype minor mnt; do
    _sweep_is_fuse "$fstype" || continue
    if [ ! -e "$SWEEP_FUSECTL/$minor/abort" ] && ! grep -q " $SWEEP_FUSECTL fusectl " /proc/mounts; then
      mount -t fusectl fusectl "$SWEEP_FUSECTL" 2>/dev/null && mounted_here=1
    fi
    if [ -e "$SWEEP_FUSECTL/$minor/abort" ]; then
      echo 1 >"$SWEEP_FUSECTL/$minor/abort" 2>/dev/null && _sweep_say "aborted the FUSE connection $minor of $mnt"
    fi
  done < <(_sweep_mounts "$1")
  [ "$mounted_here" -eq 0 ] || umount "$SWEEP_FUSECTL" 2>/dev/null || true
  return 0
}

# sweep_umount MOUNTPOINT: umount, else (failure, or more than 10 s) umount -l.
sweep_umount() {
  local pid i
  umount "$1" 2>/dev/null &
  pid=$!
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! kill -0 "$pid" 2>/dev/null && wait "$pid"; then
    return 0
  fi
  umount -l "$1" 2>/dev/null
}

# sweep_thaw DIR: thaws every filesystem under DIR that fsfreeze froze (a
# writer waits in state D on a frozen filesystem, and the unmount would too);
# fails harmlessly on one that is not frozen.
sweep_thaw() {
  local fstype minor mnt
  while read -r fstype minor mnt; do
    _sweep_is_fuse "$fstype" && continue
    if fsfreeze -u "$mnt" >/dev/null 2>&1; then _sweep_say "thawed $mnt"; fi
  done < <(_sweep_mounts "$1")
  return 0
}

_sweep_unmount_all() { # DIR fuse|other
  local fstype minor mnt
  while read -r fstype minor mnt; do
    if _sweep_is_fuse "$fstype"; then [ "$2" = fuse ] || continue; else [ "$2" = other ] || continue; fi
    if sweep_umount "$mnt"; then
      _sweep_say "unmounted $mnt ($fstype)"
    else
      _sweep_say "could not unmount $mnt ($fstype)"
    fi
  done < <(_sweep_mounts "$1")
  return 0
}

# _sweep_loops DIR: the loop devices whose backing file is under DIR.
_sweep_loops() {
  _sweep_scope "$1" || return 0
  local dir=${1%/}/ name back
  losetup -l -n -O NAME,BACK-FILE 2>/dev/null | while read -r name back; do
    [[ $back == "$dir"* ]] && echo "$name"
  done
  return 0
}

sweep_loops() {
  local dev i
  for dev in $(_sweep_loops "$1"); do
    losetup -d "$dev" 2>/dev/null && _sweep_say "detached $dev" || _sweep_say "could not detach $dev"
  done
  # losetup -d is asynchronous; a device still in use goes away when its
  # last user does (autoclear).
  for ((i = 0; i < 50; i++)); do
    [ -z "$(_sweep_loops "$1")" ] && break
    sleep 0.1
  done
  return 0
}

# sweep_dir DIR: everything in note 2. Sets SWEEP_FOUND to the number of
# things found.
sweep_dir() {
  SWEEP_FOUND=0
  [ -d "$1" ] && _sweep_scope "$1" || return 0
  sweep_kill "$1"
  sweep_fuse_abort "$1"
  sweep_thaw "$1"
  sweep_wait_gone "$1" 5 || _sweep_say "processes still there after SIGKILL: $(sweep_pids "$1" | tr '\n' ' ')"
  _sweep_unmount_all "$1" other
  sweep_loops "$1"
  _sweep_unmount_all "$1" fuse
  return 0
}

# sweep_leftovers DIR: prints what is still there (processes, mounts, loop
# devices), nothing when DIR is clean. Changes nothing.
sweep_leftovers() {
  _sweep_scope "$1" || return 0
  local dir=${1%/}/ pid
  for pid in $(sweep_pids "$1"); do
    echo "process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
  done
  awk -v d="$dir" 'index($2 "/", d) == 1 { print "mount " $2 " (" $3 ")" }' /proc/mounts
  _sweep_loops "$1" | sed 's/^/loop device /'
  return 0
}
