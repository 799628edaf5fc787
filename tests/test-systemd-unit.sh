#!/usr/bin/env bash
# packaging/systemd/tessera@.service, checked without a running systemd:
#  - The CLI and the plugin are installed as docs/admin-guide.md says, under
#    $T/root (hard links to the build, or copies): the program of ExecStart
#    and ../lib/nbdkit/plugins/ next to it.
#  - systemd-analyze verify finds nothing wrong with an instance for a pool
#    directory (when systemd-analyze is installed). verify also checks that
#    the program of ExecStart exists, so the copy it reads has that one path
#    put under $T/root.
#  - The instance name, made with systemd-escape --path as the unit's header
#    says, gives the pool directory back as %f.
#  - Its ExecStart, with %f expanded and the program under $T/root, serves the
#    pool; the unit's KillSignal stops it within TimeoutStopSec with status
#    0, and a write that was never flushed is there after the next start
#    (the clean stop flushed and committed).
#  - After a kill -9 (a failure, which Restart= covers), the same ExecStart
#    serves again (stale socket, pool lock) with the flushed data.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd nbdinfo systemd-escape
make_tmpdir
UNIT=$TESSERA_SRC/packaging/systemd/tessera@.service
[ -f "$UNIT" ] || fail "no unit file $UNIT"
new_pool 1 512M
new_volume vol0 64M
SOCK=$POOL/nbd.sock
URI=$(nbd_uri vol0)

# unit_value KEY [DEFAULT]: the value of KEY= in the unit (the last one, as
# systemd reads it).
unit_value() {
  local v
  v=$(sed -n "s/^$1=//p" "$UNIT" | tail -n 1)
  echo "${v:-${2:-}}"
}

name=$(systemd-escape --path --template tessera@.service "$POOL")
instance=${name#tessera@}
instance=${instance%.service}
pool_dir=$(systemd-escape --unescape --path "$instance") # what %f expands to
[ "$pool_dir" = "$POOL" ] || fail "instance $name gives %f = $pool_dir, not $POOL"

log "systemd-analyze verify $name"
program=$(unit_value ExecStart)
program=${program%% *}
[[ $program == /*/bin/tessera ]] || fail "ExecStart does not run an installed tessera: $(unit_value ExecStart)"
# install_file FROM TO
install_file() {
  mkdir -p "$(dirname "$2")"
  ln -f "$1" "$2" 2>/dev/null || cp "$1" "$2" || fail "cannot install $1 as $2"
}
installed=$T/root$program
install_file "$TESSERA_BIN" "$installed"
installed_plugin=$T/root${program%/bin/tessera}/lib/nbdkit/plugins/nbdkit-tessera-plugin.so
install_file "$PLUGIN" "$installed_plugin"
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$T/units"
  sed "s|^ExecStart=$program |ExecStart=$installed |" "$UNIT" >"$T/units/tessera@.service"
  ln -s tessera@.service "$T/units/$name"
  out=$(timeout 60 systemd-analyze verify "$T/units/$name" 2>&1) || fail "systemd-analyze verify failed: $out"
  [ -z "$out" ] || fail "systemd-analyze verify complains: $out"
else
  log "  systemd-analyze is not installed: not run"
fi

# The service's command line: ExecStart split into words (the unit uses no
# quoting), %f and %% expanded, the program the one under $T/root.
exec_start=$(unit_value ExecStart)
[[ $exec_start != *[\"\'\\]* ]] || fail "ExecStart has quoting this test does not parse: $exec_start"
read -r -a argv <<<"$exec_start"
argv[0]=$installed
for i in "${!argv[@]}"; do
  w=${argv[i]//%%/$'\x01'}
  w=${w//%f/$pool_dir}
  [[ $w != *%* ]] || fail "ExecStart word '${argv[i]}' has a specifier this test does not expand"
  argv[i]=${w//$'\x01'/%}
done
kill_signal=$(unit_value KillSignal SIGTERM)
stop_timeout=$(unit_value TimeoutStopSec 90)
[[ $stop_timeout =~ ^[0-9]+$ ]] || fail "TimeoutStopSec=$stop_timeout: this test reads plain seconds"
umask_value=$(unit_value UMask 0022)
restart=$(unit_value Restart no)
[[ $restart == on-failure || $restart == always ]] || fail "Restart=$restart: a failed server is not restarted"
log "service command: ${argv[*]} (stop: $kill_signal, ${stop_timeout}s)"

# start_service: runs the command as systemd would (its umask, no terminal),
# in the background; returns once vol0 answers.
start_service() {
  echo "=== start $(date +%T)" >>"$T/service.log"
  (umask "$umask_value" && exec env -u TESSERA_PLUGIN "${argv[@]}") </dev/null >>"$T/service.log" 2>&1 &
  SERVER_PID=$!
  on_exit "kill_started $SERVER_PID"
  local i
  for ((i = 0; i < 300; i++)); do
    timeout 10 nbdinfo --size "$URI" >/dev/null 2>&1 && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the service exited: $(tail -n 5 "$T/service.log")"
    sleep 0.1
  done
  fail "the service did not answer within 30 s: $(tail -n 5 "$T/service.log")"
}

# stop_service: what systemctl stop does (KillMode=mixed: the main process
# gets KillSignal); it must exit with status 0 within TimeoutStopSec.
stop_service() {
  local i rc=0
  kill -s "$kill_signal" "$SERVER_PID"
  for ((i = 0; i < stop_timeout * 10; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$SERVER_PID" 2>/dev/null && fail "the service did not stop within ${stop_timeout}s of $kill_signal"
  wait "$SERVER_PID" || rc=$?
  [ "$rc" -eq 0 ] || fail "the service exited with status $rc on $kill_signal: $(tail -n 5 "$T/service.log")"
}

# nbd_run PYTHON: runs PYTHON with h connected to vol0.
nbd_run() { timeout 60 "$NBDSH" -u "$URI" -c "$1"; }

log "start, write (one write flushed, one not), stop with $kill_signal"
start_service
grep -q "serving pool $POOL" "$T/service.log" || fail "the service does not say what it serves"
grep -qF " $installed_plugin pool=" "$T/service.log" ||
  fail "the service does not run the installed plugin $installed_plugin: $(grep running: "$T/service.log")"
nbd_run "
h.pwrite(b'A' * 65536, 0)
h.flush()
h.pwrite(b'B' * 65536, 1 << 20)" || fail "writing through the service failed"
stop_service
pool_check

log "start again: both writes are there"
start_service
nbd_run "
assert h.pread(65536, 0) == b'A' * 65536, 'the flushed write is lost'
assert h.pread(65536, 1 << 20) == b'B' * 65536, 'the clean stop lost a write that was not flushed'
h.pwrite(b'C' * 65536, 2 << 20)
h.flush()" || fail "the data is not what was written before the stop"

log "kill -9 (a failure): the same command serves again, with the flushed data"
crash_server
start_service
nbd_run "
assert h.pread(65536, 0) == b'A' * 65536, 'A lost'
assert h.pread(65536, 2 << 20) == b'C' * 65536, 'a flushed write is lost after the crash'" ||
  fail "the data is not there after the restart"
stop_service
pool_check
