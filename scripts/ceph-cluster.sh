#!/usr/bin/env bash
# ceph-cluster.sh: a throw-away single-node Ceph cluster (Debian 12, Ceph
# 16.2 "pacific") for tests that talk to RADOS through librados.
#
# Usage:
#   scripts/ceph-cluster.sh install
#       apt-get installs (no recommends) the packages below; skips the ones
#       already installed. Needs root (or sudo).
#   scripts/ceph-cluster.sh start DIR [--osd-size 2G] [--pool tessera]
#                                     [--port N] [--no-mgr] [--timeout 120]
#       Creates a fresh cluster inside DIR (which must be new, empty, or a
#       stopped cluster of this script: that one is wiped), starts it in the
#       background, waits until a rados put/get/rm round trip works on the pool, then
#       prints "CEPH_CONF=DIR/ceph.conf" on stdout (progress goes to stderr),
#       so:  eval "$(scripts/ceph-cluster.sh start /tmp/c)"; rados -c "$CEPH_CONF" ...
#       A librados client needs nothing but that file:
#       rados_create(&c, NULL); rados_conf_read_file(c, CEPH_CONF); rados_connect(c).
#   scripts/ceph-cluster.sh stop DIR
#       Stops the daemons of DIR (TERM, KILL after a bounded wait). Safe to
#       repeat and on a half-started DIR. Leaves DIR (logs) in place.
#   scripts/ceph-cluster.sh status DIR
#       Prints "ceph -s" of DIR's cluster (bounded).
#   scripts/ceph-cluster.sh stop-osd DIR | start-osd DIR
#       Stops DIR's OSD alone (the mon stays: clients connect, but their
#       object operations wait), or starts it again and waits until it is up.
#       For tests of a cluster whose storage goes away.
#
# Design choices:
# - Everything lives in DIR: ceph.conf, monmap, mon/mgr/osd data, the OSD's
#   block file, logs (DIR/log), admin sockets (DIR/run), crash dumps, and the
#   daemons' pid files DIR/mon.a.pid, DIR/mgr.x.pid, DIR/osd.0.pid (written by
#   the daemons, which daemonize themselves and delete the file on a clean
#   exit). Nothing under /etc/ceph, /var/lib/ceph, /var/run/ceph, no systemd.
#   Root is not needed for start/stop/status.
# - One mon (mon.a), one mgr (mgr.x), one OSD (osd.0). Pool creation and rados
#   I/O do not need the mgr (the mon creates the PGs and serves the maps); the
#   mgr only adds "ceph -s" PG/usage figures, "ceph df", and its always-on
#   Python modules (its devicehealth module creates a 1-PG pool
#   device_health_metrics). It is started by default since it costs no start
#   time (it comes up while the OSD is made), but it is the biggest daemon
#   (~300 MiB RSS vs ~35-50 MiB for mon and OSD); --no-mgr skips it.
# - Messenger v2 only, bound to 127.0.0.1. The mon port is --port or a
#   random free one (retried if the bind loses a race); mgr/OSD take free
#   ports from Ceph's 6800-7300 range, so several clusters can coexist.
# - auth none (auth_*_required = none): no keyrings anywhere; any librados
#   client reaches the cluster with just "-c DIR/ceph.conf".
# - OSD: BlueStore on a sparse plain file DIR/osd.0.block (bluestore_block_path,
#   bluestore_block_create, bluestore_block_size = --osd-size). DIR must be on a
#   file system that supports O_DIRECT (ext4/xfs/btrfs; not an old tmpfs).
# - Small machine: osd_memory_target 512 MiB, 1 op shard x 2 threads, 2
#   messenger threads, mon memory target 256 MiB, 8 PGs per pool, autoscaler
#   off, mon commits batched 0.1 s instead of 1 s, no fsck at OSD mkfs.
#   Pool size 1 / min_size 1 (mon_allow_pool_size_one), CRUSH failure domain
#   "osd" (osd_crush_chooseleaf_type 0).
# - Client-side timeouts written to [client] so that tests fail instead of
#   hanging: client_mount_timeout 30 s (rados_connect gives up with
#   -ETIMEDOUT, default is 300 s), rados_mon_op_timeout 30 s. OSD ops
#   (rados_osd_op_timeout) keep Ceph's default 0 = wait forever.
# - Every wait is bounded: start gives up after --timeout seconds (default
#   120) with a message and the tail of the daemon logs, and stops what it
#   started. stop sends TERM, waits up to 20 s, then KILL.
set -euo pipefail

PROG=${0##*/}
PACKAGES=(ceph-mon ceph-osd ceph-mgr ceph-common librados-dev)
MON_ID=a
MGR_ID=x
STOP_WAIT=20

usage() {
  sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

die() { echo "$PROG: error: $*" >&2; exit 1; }
say() { echo "$PROG: $*" >&2; }

# ---------------------------------------------------------------- install
cmd_install() {
  [ $# -eq 0 ] || die "install takes no arguments"
  local installed missing=() p sudo=""
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null |
    sed -n 's/^\([^ ]*\) install ok installed$/\1/p' || true)
  for p in "${PACKAGES[@]}"; do
    grep -qxF -- "$p" <<<"$installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "all packages present: ${PACKAGES[*]}"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "install needs root (missing: ${missing[*]})"
    sudo="sudo"
  fi
  say "installing ${missing[*]}"
  if ! $sudo env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    say "apt-get install failed; running apt-get update and retrying"
    $sudo apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

# ---------------------------------------------------------------- helpers
# abs_dir DIR [create]: absolute physical path of DIR.
abs_dir() {
  if [ "${2:-}" = create ]; then mkdir -p -- "$1" || die "cannot create $1"; fi
  [ -d "$1" ] || die "$1 is not a directory"
  (cd -- "$1" && pwd -P)
}

# Seconds left before the start deadline (at least 1 so timeout(1) accepts it).
left() {
  local r=$((DEADLINE - SECONDS))
  [ "$r" -ge 1 ] || r=1
  echo "$r"
}

# ceph_cli ARGS...: the ceph CLI against DIR's cluster, bounded by the start
# deadline (or 30 s outside start).
ceph_cli() {
  local t=30
  if [ -n "${DEADLINE:-}" ]; then t=$(left); [ "$t" -le 30 ] || t=30; fi
  timeout -k 3 "$t" ceph -c "$CONF" --connect-timeout "$t" "$@"
}

# wait_until DESC CMD...: retry CMD (each try bounded) until it succeeds or
# the start deadline passes.
wait_until() {
  local desc=$1; shift
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    [ "$SECONDS" -lt "$DEADLINE" ] || die "timed out after ${TIMEOUT}s waiting for $desc"
    sleep 0.5
  done
}

port_in_use() {
  if command -v ss >/dev/null; then
    [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

pick_port() {
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + RANDOM % 20000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "no free TCP port found in 20000-39999"
}

# Pids of ceph daemons started with "-c DIR/ceph.conf" (a safety net for a
# daemon whose pid file was never written, e.g. start killed midway).
pids_by_conf() {
  local conf=$1 d pid comm args
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    comm=""
    { read -r comm <"$d/comm"; } 2>/dev/null || continue
    case $comm in ceph-mon|ceph-mgr|ceph-osd) ;; *) continue ;; esac
    args=$({ tr '\0' '\n' <"$d/cmdline"; } 2>/dev/null) || continue
    grep -qxF -- "$conf" <<<"$args" && echo "$pid"
  done
  return 0
}

# Is PID a live (non-zombie) ceph daemon of this DIR?
is_our_daemon() {
  local pid=$1 conf=$2 comm args state=""
  { read -r comm <"/proc/$pid/comm"; } 2>/dev/null || return 1
  case $comm in ceph-mon|ceph-mgr|ceph-osd) ;; *) return 1 ;; esac
  { state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status"); } 2>/dev/null || return 1
  [ "$state" != Z ] || return 1
  args=$({ tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null) || return 1
  grep -qxF -- "$conf" <<<"$args"
}

# stop_dir DIR: TERM then KILL the daemons of DIR; OSD first, mon last.
stop_dir() {
  local dir=$1 conf=$1/ceph.conf pidf pid pids=() alive i
  shopt -s nullglob
  for pidf in "$dir"/osd.*.pid "$dir"/mgr.*.pid "$dir"/mon.*.pid; do
    pid=$(tr -dc '0-9' <"$pidf" || true)
    if [ -n "$pid" ] && is_our_daemon "$pid" "$conf"; then
      pids+=("$pid")
    else
      rm -f -- "$pidf"   # stale: process gone or pid reused by someone else
    fi
  done
  shopt -u nullglob
  for pid in $(pids_by_conf "$conf"); do
    [[ " ${pids[*]} " == *" $pid "* ]] || pids+=("$pid")
  done
  if [ ${#pids[@]} -eq 0 ]; then
    say "nothing running in $dir"
    return 0
  fi
  say "stopping pids ${pids[*]}"
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    # Give the OSD a moment to tell the mon it goes down before the mon goes.
    for i in 1 2 3 4 5 6 7 8 9 10; do is_our_daemon "$pid" "$conf" || break; sleep 0.2; done
  done
  for ((i = 0; i < STOP_WAIT * 5; i++)); do
    alive=()
    for pid in "${pids[@]}"; do is_our_daemon "$pid" "$conf" && alive+=("$pid"); done
    [ ${#alive[@]} -gt 0 ] || break
    sleep 0.2
  done
  if [ ${#alive[@]} -gt 0 ]; then
    say "still running after ${STOP_WAIT}s, sending KILL to ${alive[*]}"
    for pid in "${alive[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for ((i = 0; i < 25; i++)); do
      alive=()
      for pid in "${pids[@]}"; do is_our_daemon "$pid" "$conf" && alive+=("$pid"); done
      [ ${#alive[@]} -gt 0 ] || break
      sleep 0.2
    done
    [ ${#alive[@]} -eq 0 ] || die "could not stop pids ${alive[*]}"
  fi
  rm -f -- "$dir"/*.pid
  say "stopped"
}

# ---------------------------------------------------------------- start
write_conf() {
  local d=$1 port=$2 fsid=$3 osd_bytes=$4
  cat >"$d/ceph.conf" <<EOF
# Written by $PROG: throw-away single-node test cluster, everything in $d.
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$port]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv4 = true
ms_bind_ipv6 = false
ms_bind_msgr1 = false
ms_bind_msgr2 = true
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
keyring = $d/keyring
run_dir = $d/run
crash_dir = $d/crash
mon_cluster_log_file = $d/log/cluster.log
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
mon_warn_on_insecure_global_id_reclaim = false
mon_warn_on_insecure_global_id_reclaim_allowed = false
mgr_initial_modules = iostat

[client]
client_mount_timeout = 30
rados_mon_op_timeout = 30

[mon]
mon_data = $d/mon/\$id
log_file = $d/log/\$name.log
pid_file = $d/\$name.pid
ms_async_op_threads = 2
mon_memory_target = 268435456
rocksdb_cache_size = 67108864
mon_data_avail_warn = 2
mon_data_avail_crit = 1
paxos_propose_interval = 0.1

[mgr]
mgr_data = $d/mgr/\$id
log_file = $d/log/\$name.log
pid_file = $d/\$name.pid
ms_async_op_threads = 2

[osd]
osd_data = $d/osd/\$id
osd_objectstore = bluestore
bluestore_block_path = $d/osd.\$id.block
bluestore_block_create = true
bluestore_block_size = $osd_bytes
bluestore_block_db_create = false
bluestore_block_wal_create = false
bluestore_fsck_on_mkfs = false
osd_memory_target = 536870912
osd_op_num_shards = 1
osd_op_num_threads_per_shard = 2
ms_async_op_threads = 2
log_file = $d/log/\$name.log
pid_file = $d/\$name.pid
EOF
}

show_logs() {
  local f
  for f in "$DIR"/log/mon.*.log "$DIR"/log/osd.*.log "$DIR"/log/mgr.*.log; do
    [ -s "$f" ] || continue
    echo "----- last lines of $f" >&2
    tail -n 8 "$f" | cut -c1-300 >&2
  done
}

on_start_exit() {
  local rc=$?
  [ "$START_OK" = 1 ] && return 0
  [ "$rc" -ne 0 ] || rc=1
  say "start failed; logs are in $DIR/log"
  show_logs || true
  stop_dir "$DIR" || true
  exit "$rc"
}

# start_mon: mkfs + start mon.a on $PORT. Returns 1 if the daemon did not start.
start_mon() {
  rm -rf -- "$DIR/mon" "$DIR/monmap"
  mkdir -p "$DIR/mon/$MON_ID"
  write_conf "$DIR" "$PORT" "$FSID" "$OSD_BYTES"
  monmaptool --create --fsid "$FSID" --enable-all-features \
    --addv "$MON_ID" "[v2:127.0.0.1:$PORT]" "$DIR/monmap" >/dev/null ||
    die "monmaptool failed"
  timeout -k 3 "$(left)" ceph-mon -c "$CONF" -i "$MON_ID" --mkfs --monmap "$DIR/monmap" \
    >>"$DIR/log/mkfs.log" 2>&1 || die "ceph-mon --mkfs failed (see $DIR/log/mkfs.log)"
  timeout -k 3 "$(left)" ceph-mon -c "$CONF" -i "$MON_ID" >>"$DIR/log/daemons.out" 2>&1
}

cmd_start() {
  local osd_size=2G pool=tessera port="" use_mgr=1 arg
  TIMEOUT=120
  [ $# -ge 1 ] || die "start needs DIR (see --help)"
  DIR=$1; shift
  while [ $# -gt 0 ]; do
    arg=$1
    case $arg in
      --osd-size|--pool|--port|--timeout)
        [ $# -ge 2 ] || die "$arg needs a value"
        case $arg in
          --osd-size) osd_size=$2 ;; --pool) pool=$2 ;;
          --port) port=$2 ;; --timeout) TIMEOUT=$2 ;;
        esac
        shift 2 ;;
      --osd-size=*) osd_size=${arg#*=}; shift ;;
      --pool=*) pool=${arg#*=}; shift ;;
      --port=*) port=${arg#*=}; shift ;;
      --timeout=*) TIMEOUT=${arg#*=}; shift ;;
      --no-mgr) use_mgr=0; shift ;;
      *) die "unknown option for start: $arg" ;;
    esac
  done
  [[ $TIMEOUT =~ ^[0-9]+$ && $TIMEOUT -ge 10 ]] || die "--timeout must be whole seconds >= 10"
  [[ $pool =~ ^[A-Za-z0-9_.-]+$ ]] || die "--pool: use letters, digits, _ . - only"
  if [ -n "$port" ]; then
    [[ $port =~ ^[0-9]+$ && $port -ge 1024 && $port -le 65535 ]] || die "--port must be 1024-65535"
    port_in_use "$port" && die "port $port is already in use"
  fi
  OSD_BYTES=$(numfmt --from=iec "${osd_size%B}" 2>/dev/null) || die "--osd-size: cannot parse '$osd_size' (e.g. 2G, 512M)"
  [ "$OSD_BYTES" -ge $((1024 * 1024 * 1024)) ] || die "--osd-size must be at least 1G (BlueStore needs room for its DB)"

  for arg in ceph ceph-mon ceph-osd monmaptool rados uuidgen; do
    command -v "$arg" >/dev/null || die "$arg not found: run '$0 install' first"
  done
  [ "$use_mgr" = 0 ] || command -v ceph-mgr >/dev/null || die "ceph-mgr not found: run '$0 install' first (or use --no-mgr)"

  case $DIR in *[[:space:]\$\;\#\'\"\\]*) die "DIR must not contain spaces or any of \$ ; # ' \" \\" ;; esac
  DIR=$(abs_dir "$DIR" create)
  CONF=$DIR/ceph.conf
  [ ${#DIR} -le 80 ] || say "warning: DIR path is long; admin sockets (max 107 bytes) may fail"

  # A fresh cluster: DIR must be empty, or a stopped cluster of this script.
  if [ -n "$(ls -A -- "$DIR")" ]; then
    [ -f "$DIR/.ceph-cluster-sh" ] ||
      die "$DIR is not empty and was not made by $PROG; give an empty or new directory"
    [ -z "$(pids_by_conf "$CONF")" ] ||
      die "a cluster is running in $DIR; run '$0 stop $DIR' first"
    say "wiping the stopped cluster in $DIR"
    find "$DIR" -mindepth 1 -delete
  fi
  touch "$DIR/.ceph-cluster-sh"
  mkdir -p "$DIR/log" "$DIR/run" "$DIR/crash" "$DIR/mgr/$MGR_ID"

  START_OK=0
  DEADLINE=$((SECONDS + TIMEOUT))
  trap on_start_exit EXIT
  FSID=$(uuidgen)

  # --- monitor (retry with another port if an auto-picked one was taken)
  local try
  for try in 1 2 3; do
    PORT=${port:-$(pick_port)}
    if start_mon; then break; fi
    if [ -n "$port" ] || [ "$try" = 3 ]; then
      die "ceph-mon did not start on 127.0.0.1:$PORT (see $DIR/log/mon.$MON_ID.log and daemons.out)"
    fi
    say "ceph-mon failed on port $PORT, retrying with another port"
  done
  say "mon.$MON_ID started on 127.0.0.1:$PORT (v2)"
  wait_until "the monitor to answer" ceph_cli mon stat

  # --- manager (not needed for I/O; comes up while the OSD is being made)
  if [ "$use_mgr" = 1 ]; then
    timeout -k 3 "$(left)" ceph-mgr -c "$CONF" -i "$MGR_ID" >>"$DIR/log/daemons.out" 2>&1 ||
      die "ceph-mgr did not start (see $DIR/log/mgr.$MGR_ID.log)"
    say "mgr.$MGR_ID started"
  fi

  # --- OSD: BlueStore on a plain file
  local uuid id
  uuid=$(uuidgen)
  id=$(ceph_cli osd new "$uuid") || die "'ceph osd new' failed"
  [[ $id =~ ^[0-9]+$ ]] || die "'ceph osd new' returned '$id'"
  mkdir -p "$DIR/osd/$id"
  timeout -k 3 "$(left)" ceph-osd -c "$CONF" -i "$id" --mkfs --osd-uuid "$uuid" \
    >>"$DIR/log/mkfs.log" 2>&1 || die "ceph-osd --mkfs failed (see $DIR/log/mkfs.log and osd.$id.log)"
  timeout -k 3 "$(left)" ceph-osd -c "$CONF" -i "$id" >>"$DIR/log/daemons.out" 2>&1 ||
    die "ceph-osd did not start (see $DIR/log/osd.$id.log)"
  say "osd.$id started (bluestore on $DIR/osd.$id.block, $osd_size)"
  osd_up() { ceph_cli osd stat -f json | grep -q '"num_up_osds":1[,}]'; }
  wait_until "osd.$id to be up" osd_up

  # --- pool
  # size 1 explicitly; min_size is then 1 (also osd_pool_default_min_size).
  ceph_cli osd pool create "$pool" 8 8 replicated --size 1 >/dev/null 2>&1 || die "cannot create pool $pool"
  ceph_cli osd pool application enable "$pool" rados >/dev/null 2>&1 || true

  # --- I/O round trip
  local probe=$DIR/run/probe.in back=$DIR/run/probe.out
  echo "ceph-cluster.sh probe $FSID" >"$probe"
  rados_roundtrip() {
    local t; t=$(left); [ "$t" -le 15 ] || t=15
    rm -f "$back"
    timeout -k 3 "$t" rados -c "$CONF" --rados-osd-op-timeout "$t" -p "$pool" put probe "$probe" &&
      timeout -k 3 "$t" rados -c "$CONF" --rados-osd-op-timeout "$t" -p "$pool" get probe "$back" &&
      cmp -s "$probe" "$back" &&
      timeout -k 3 "$t" rados -c "$CONF" --rados-osd-op-timeout "$t" -p "$pool" rm probe
  }
  wait_until "a rados put/get/rm round trip on pool $pool" rados_roundtrip
  rm -f "$probe" "$back"

  if [ "$use_mgr" = 1 ]; then
    mgr_up() { ceph_cli mgr stat -f json | grep -q '"available": *true'; }
    wait_until "mgr.$MGR_ID to be active" mgr_up
  fi

  START_OK=1
  trap - EXIT
  say "cluster up in $((SECONDS - DEADLINE + TIMEOUT))s: pool $pool, mon 127.0.0.1:$PORT"
  echo "CEPH_CONF=$CONF"
}

# ---------------------------------------------------------------- stop/status
cmd_stop() {
  [ $# -eq 1 ] || die "usage: $PROG stop DIR"
  [ -d "$1" ] || { say "$1 does not exist; nothing to stop"; return 0; }
  stop_dir "$(abs_dir "$1")"
}

cmd_status() {
  [ $# -eq 1 ] || die "usage: $PROG status DIR"
  DIR=$(abs_dir "$1")
  CONF=$DIR/ceph.conf
  [ -f "$CONF" ] || die "no $CONF"
  DEADLINE=$((SECONDS + 15))
  ceph_cli -s || die "'ceph -s' failed or timed out (is the cluster running?)"
}

cmd_stop_osd() {
  [ $# -eq 1 ] || die "usage: $PROG stop-osd DIR"
  DIR=$(abs_dir "$1")
  CONF=$DIR/ceph.conf
  local pid i
  pid=$(tr -dc '0-9' <"$DIR/osd.0.pid" 2>/dev/null || true)
  [ -n "$pid" ] && is_our_daemon "$pid" "$CONF" || die "no OSD of $DIR is running"
  kill -TERM "$pid"
  for ((i = 0; i < STOP_WAIT * 5; i++)); do
    is_our_daemon "$pid" "$CONF" || { say "osd.0 stopped"; return 0; }
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
  say "osd.0 killed after ${STOP_WAIT}s"
}

cmd_start_osd() {
  [ $# -eq 1 ] || die "usage: $PROG start-osd DIR"
  DIR=$(abs_dir "$1")
  CONF=$DIR/ceph.conf
  [ -d "$DIR/osd/0" ] || die "no OSD in $DIR"
  TIMEOUT=60
  DEADLINE=$((SECONDS + TIMEOUT))
  timeout -k 3 "$(left)" ceph-osd -c "$CONF" -i 0 >>"$DIR/log/daemons.out" 2>&1 ||
    die "ceph-osd did not start (see $DIR/log/osd.0.log)"
  osd_up() { ceph_cli osd stat -f json | grep -q '"num_up_osds":1[,}]'; }
  wait_until "osd.0 to be up" osd_up
  say "osd.0 up"
}

# ---------------------------------------------------------------- main
[ $# -ge 1 ] || { usage >&2; exit 2; }
cmd=$1; shift
case $cmd in
  -h|--help|help) usage ;;
  install) cmd_install "$@" ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  stop-osd) cmd_stop_osd "$@" ;;
  start-osd) cmd_start_osd "$@" ;;
  *) die "unknown command '$cmd' (see --help)" ;;
esac
