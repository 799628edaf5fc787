# Helpers shared by scripts/bench*.sh. Source it after setting BENCH_NAME,
# the prefix of every message, from the repository's top directory.
# Sourcing it also sets ROOT (that directory), BUILD_DIR (absolute;
# $TESSERA_BUILD_DIR or build), TESSERA and PLUGIN (the built CLI and
# plugin, which each script checks for or builds), and puts the
# distribution's tools first on PATH.

ROOT=$PWD
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
# shellcheck disable=SC2034 # read by the scripts that source this file
TESSERA=$BUILD_DIR/admin/tessera
# shellcheck disable=SC2034
PLUGIN=$BUILD_DIR/plugin/nbdkit-tessera-plugin.so
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

# bench_bytes SIZE: 512m, 1g, 2G, 4096 -> bytes; a bad size exits 2.
bench_bytes() {
  local s=${1,,}
  case $s in
    *k) echo $((${s%k} << 10)) ;; *m) echo $((${s%m} << 20)) ;;
    *g) echo $((${s%g} << 30)) ;; *t) echo $((${s%t} << 40)) ;;
    *[!0-9]* | '') echo "$BENCH_NAME: bad size '$1'" >&2; exit 2 ;;
    *) echo "$s" ;;
  esac
}

# bench_check_runtime SEC: a positive whole number of seconds, else exit 2.
bench_check_runtime() {
  [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ] || { echo "$BENCH_NAME: bad --runtime '$1'" >&2; exit 2; }
}

# bench_require TOOL...: exits 1 naming the first tool not on PATH.
bench_require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$BENCH_NAME: $tool is missing (run scripts/install-deps.sh)" >&2; exit 1; }
  done
}

# bench_wait_for_socket NAME PID SOCKET [EXPORT]: waits until the server NAME
# (process PID, log $W/NAME.log) answers on SOCKET: EXPORT's size, or the
# export list. Exits 1 when the server exits or takes over 30 s.
bench_wait_for_socket() {
  local i probe=(--list "nbd+unix:///?socket=$3")
  if [ -n "${4:-}" ]; then probe=(--size "nbd+unix:///$4?socket=$3"); fi
  for ((i = 0; i < 300; i++)); do
    [ -S "$3" ] && nbdinfo "${probe[@]}" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { echo "$BENCH_NAME: $1 exited: $(tail -n 5 "$W/$1.log")" >&2; exit 1; }
    sleep 0.1
  done
  echo "$BENCH_NAME: $1 did not come up" >&2
  exit 1
}

# bench_workdir DIR PREFIX: W becomes a fresh directory DIR/PREFIX.XXXXXX;
# on exit the servers whose pids the script adds to PIDS are stopped (by
# pid: nothing the script did not start) and W is removed.
bench_workdir() {
  mkdir -p "$1"
  W=$(mktemp -d "$1/$2.XXXXXX")
  PIDS=()
  trap _bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
_bench_cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$W"
}

# bench_cpu_ticks PID: the process's utime + stime, in clock ticks. The
# fields are counted after the command name's closing parenthesis, which
# may hold spaces.
bench_cpu_ticks() {
  local stat
  stat=$(<"/proc/$1/stat")
  stat=${stat##*) }
  awk '{print $12 + $13}' <<<"$stat"
}
