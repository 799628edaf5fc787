#!/usr/bin/env bash
# Bad input to the tessera CLI (docs/architecture.md, Guarantees: bad input):
# every misuse exits non-zero with a clear message naming the problem, and
# changes nothing: `volume list --json`, the pool's files and pool.conf are
# identical before and after. Usage errors exit 2. Includes deleting a volume
# that a running server has open.
source "$(dirname "$0")/functions.sh"
require_build
make_tmpdir

new_pool 2 256M
new_volume vol0 64M
new_volume vol1 32M stripe:2

# The observable state: volumes, the pool's file names and its config.
state() {
  tessera volume list --pool "$POOL" --json
  (cd "$POOL" && ls -A | grep -Ev '^(lock|control\.sock|nbd\.sock)$')
  cat "$POOL/pool.conf"
}
state >"$T/state.before"

# misuse EXPECTED-STATUS REGEX ARGS...: `tessera ARGS` exits with
# EXPECTED-STATUS ("nonzero" for any failure) and prints a message matching
# REGEX; nothing changes.
misuse() {
  local want=$1 regex=$2
  shift 2
  local out rc=0
  out=$(tessera "$@" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ]; then
    soft_fail "tessera $*: succeeded (expected an error): $out"
  elif [ "$want" != nonzero ] && [ "$rc" -ne "$want" ]; then
    soft_fail "tessera $*: exit status $rc, expected $want: $out"
  elif ! grep -Eq -- "$regex" <<<"$out"; then
    soft_fail "tessera $*: unclear message (wanted /$regex/): $out"
  else
    echo "  ok: tessera $* -> $rc: $(head -n 1 <<<"$out")"
  fi
  state >"$T/state.after"
  if ! cmp -s "$T/state.before" "$T/state.after"; then
    soft_fail "tessera $*: changed the pool: $(diff "$T/state.before" "$T/state.after" | head -n 10)"
    cp "$T/state.after" "$T/state.before" # report each change once
  fi
}

log "usage errors"
misuse 2 "frobnicate" frobnicate
misuse 2 "frobnicate" volume frobnicate --pool "$POOL"
misuse 2 "subcommand|required" volume
misuse 2 "subcommand|required"
misuse 2 "--size.*required|required.*--size" volume create new --pool "$POOL"
misuse 2 "12Q" volume create new --pool "$POOL" --size 12Q
misuse 2 "-5G" volume create new --pool "$POOL" --size -5G
misuse 2 "zero" volume create new --pool "$POOL" --size 0
misuse 2 "overflow" volume create new --pool "$POOL" --size 99999999999999999999
misuse 2 "4096|4K|multiple" volume create new --pool "$POOL" --size 1000
misuse 2 "mirror" volume create new --pool "$POOL" --size 64M --layout mirror
misuse 2 "stripe:0" volume create new --pool "$POOL" --size 64M --layout stripe:0
misuse 2 "tier|bogus" volume create new --pool "$POOL" --size 64M --tier bogus
misuse 2 "a/b" volume create a/b --pool "$POOL" --size 64M
misuse 2 "name" volume create "" --pool "$POOL" --size 64M
misuse 2 "--bogus" volume list --pool "$POOL" --bogus
misuse 2 "name.*required|required" volume delete --pool "$POOL"
misuse 2 "--vdevs|range" pool create --pool "$T/pool2" --vdevs 0
[ -e "$T/pool2" ] && soft_fail "a refused pool create left $T/pool2 behind"
misuse nonzero "vdev 'a'.*unknown kind 'nfs'.*known kinds: file" \
  pool create --pool "$T/pool3" --vdev name=a,path=a.img,size=16M,kind=nfs
[ -e "$T/pool3/a.img" ] && soft_fail "a pool create refusing kind=nfs created a vdev file"

log "errors against the pool"
misuse nonzero "already exists" volume create vol0 --pool "$POOL" --size 64M
misuse nonzero "nope" volume delete nope --pool "$POOL"
misuse nonzero "nope" volume info nope --pool "$POOL"
misuse nonzero "nope" exnode show nope --pool "$POOL"
misuse nonzero "--force" volume resize vol0 32M --pool "$POOL"
misuse nonzero "already exists|pool" pool create --pool "$POOL"
misuse nonzero "no pool" volume list --pool "$T/nowhere"
[ -e "$T/nowhere" ] && soft_fail "a command on a missing pool created $T/nowhere"

log "while serving: deleting or shrinking an open volume"
start_server "$POOL"
"$PYTHON" -c '
import sys, time
from nbd_helpers import connect
h = connect(sys.argv[1], "vol0")
open(sys.argv[2], "w").close()
time.sleep(30)' "$SOCK" "$T/holder.ready" &
holder=$!
on_exit "kill_started $holder"
for ((i = 0; i < 100; i++)); do [ -e "$T/holder.ready" ] && break; sleep 0.1; done
[ -e "$T/holder.ready" ] || fail "could not open vol0 over NBD"
# The open flag is part of the state while the connection is open.
state >"$T/state.before"
grep -q '"open": true' "$T/state.before" || soft_fail "volume list does not show vol0 as open"
misuse nonzero "in use|open|busy" volume delete vol0 --pool "$POOL"
misuse nonzero "in use|open|busy|--force" volume resize vol0 32M --force --pool "$POOL"
misuse nonzero "already exists" volume create vol1 --pool "$POOL" --size 64M
server_alive || fail "the server died"
"$PYTHON" -c '
import sys
from nbd_helpers import connect
connect(sys.argv[1], "vol0").pread(4096, 0)' "$SOCK" ||
  soft_fail "vol0 cannot be read after the refused commands"
kill_started "$holder"
stop_server

log "after the server stopped, the pool is as before"
state >"$T/state.final"
sed 's/"open": true/"open": false/' "$T/state.before" | cmp -s - "$T/state.final" ||
  soft_fail "the pool changed: $(diff "$T/state.before" "$T/state.final" | head)"
pool_check
