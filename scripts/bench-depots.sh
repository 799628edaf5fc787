#!/usr/bin/env bash
# The depot benchmark (run as `scripts/bench.sh --depots`, or directly): an
# rs:4+2 volume over 6 nbd depots (kind nbd, each an `nbdkit file` export on
# a Unix socket) against the same volume over 6 local file vdevs, with no
# added latency and with DELAY ms per depot request (nbdkit's delay filter,
# reads and writes). Three pools, one server each in turn, the same fio jobs
# on each: 1M sequential write and read (QD8), 4K random write and read
# (QD32). Prints each engine's numbers and the ratios depots/files.
#
#   scripts/bench-depots.sh [--quick] [--size SIZE] [--delay MS] [--runtime SEC] [--dir DIR]
#
#   --quick      256 MiB volumes, 3 s per job
#   --size       the volume's size (default 1g); also the bytes written
#   --delay      the delayed depots' latency per request, in ms (default 1)
#   --runtime    seconds per job at most (default 15)
#   --dir        where the pools go (default ./var/bench); removed afterwards
#
# Design notes
#  1. Each pool keeps its metadata on a local file (the fastest tier), so
#     what differs is only where the data chunks go. The depots' files and
#     the local vdev files are on the same file system.
#  2. The volume's data cache (256 MiB) is smaller than a default volume,
#     so sequential reads reach the vdevs; with --quick it is not, so
#     --quick numbers include cache hits (say so when quoting them).
#  3. Only the servers started here are stopped, by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=bench-depots
source scripts/bench-common.sh

SIZE=1g
DELAY=1
RUNTIME=15
DIR=$ROOT/var/bench
usage() { sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p' | sed '/^Design notes/,$d'; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) SIZE=256m; RUNTIME=3 ;;
    --size) SIZE=$2; shift ;;
    --delay) DELAY=$2; shift ;;
    --runtime) RUNTIME=$2; shift ;;
    --dir) DIR=$2; shift ;;
    --depots) ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$BENCH_NAME: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
SIZE_B=$(bench_bytes "$SIZE")
bench_check_runtime "$RUNTIME"
[[ $DELAY =~ ^[0-9]+$ ]] && ((DELAY > 0)) || { echo "$BENCH_NAME: --delay wants a whole number of ms above 0" >&2; exit 2; }
bench_require fio nbdkit nbdinfo python3
[ -x "$TESSERA" ] && [ -f "$PLUGIN" ] || { echo "$BENCH_NAME: build first (scripts/build.sh)" >&2; exit 1; }

bench_workdir "$DIR" depots
# Each data vdev holds a sixth of 1.5 x the volume, with room to spare.
VDEV_MB=$(((SIZE_B >> 20) / 3 + 256))
echo "$BENCH_NAME: rs:4+2, a volume of $((SIZE_B >> 20)) MiB, depots delayed ${DELAY} ms in the third run," \
  "at most ${RUNTIME} s per job; work dir $W"

# start_depots NAME [DELAY-MS]: 6 nbdkit file servers on Unix sockets,
# behind the delay filter when DELAY-MS is given.
start_depots() {
  local name=$1 delay=${2:-} i args
  for i in 0 1 2 3 4 5; do
    truncate -s "${VDEV_MB}M" "$W/$name-d$i.img"
    args=(file "$W/$name-d$i.img")
    [ -z "$delay" ] || args=(--filter=delay "${args[@]}" rdelay="${delay}ms" wdelay="${delay}ms")
    nbdkit -f --exit-with-parent -U "$W/$name-d$i.sock" "${args[@]}" >"$W/$name-d$i.log" 2>&1 &
    PIDS+=("$!")
    bench_wait_for_socket "$name-d$i" "$!" "$W/$name-d$i.sock"
  done
}

mkdir -p "$W/res"
# run_engine NAME VDEV-ARGS...: makes the pool and the volume, serves it,
# runs the four jobs, stops the server.
run_engine() {
  local name=$1 job server
  shift
  "$TESSERA" pool create --pool "$W/$name" --vdev "tier=fastest,path=meta.img,size=256M,name=meta" "$@" \
    >>"$W/setup.log"
  "$TESSERA" volume create vol --pool "$W/$name" --size "$SIZE_B" --layout rs:4+2 >>"$W/setup.log"
  nbdkit -f --exit-with-parent -U "$W/$name.sock" "$PLUGIN" pool="$W/$name" >"$W/$name-server.log" 2>&1 &
  server=$!
  PIDS+=("$server")
  bench_wait_for_socket "$name-server" "$server" "$W/$name.sock" vol
  for job in seqwrite-1m-qd8 seqread-1m-qd8 randwrite-4k-qd32 randread-4k-qd32; do
    echo "$BENCH_NAME: $name: $job"
    URI="nbd+unix:///vol?socket=$W/$name.sock" SIZE=$SIZE_B RUNTIME=$RUNTIME IO_LIMIT=$SIZE_B \
      fio --output-format=json --output="$W/res/$name.$job.json" "fio-jobs/$job.fio" >"$W/res/$name.$job.err" 2>&1 ||
      true
    kill -0 "$server" 2>/dev/null || { echo "$BENCH_NAME: the $name server died: $(tail -n 5 "$W/$name-server.log")" >&2; exit 1; }
  done
  kill "$server"
  wait "$server" 2>/dev/null || true
}

files=()
for i in 0 1 2 3 4 5; do files+=(--vdev "tier=slow,path=d$i.img,size=${VDEV_MB}M,name=d$i"); done
run_engine files "${files[@]}"

start_depots depots
depots=()
for i in 0 1 2 3 4 5; do depots+=(--vdev "kind=nbd,uri=nbd+unix:///?socket=$W/depots-d$i.sock,tier=slow,name=d$i"); done
run_engine depots "${depots[@]}"

start_depots delayed "$DELAY"
delayed=()
for i in 0 1 2 3 4 5; do delayed+=(--vdev "kind=nbd,uri=nbd+unix:///?socket=$W/delayed-d$i.sock,tier=slow,name=d$i"); done
run_engine delayed "${delayed[@]}"

python3 - "$W/res" "$DELAY" <<'PY' | tee "$DIR/last-bench-depots.txt"
import json, os, sys
res, delay = sys.argv[1], sys.argv[2]

def rate(engine, job):
    try:
        text = open(os.path.join(res, "%s.%s.json" % (engine, job))).read()
        j = json.loads(text[text.index("{"):])["jobs"][0]
    except (OSError, ValueError, KeyError):
        return None
    if j.get("error"):
        return None
    rw = "read" if j["read"]["io_bytes"] > 0 else "write"
    return j[rw]["bw"] / 1024.0 if "1m" in job else j[rw]["iops"]

def fmt(x):
    return "ERR" if x is None else ("%.1f" % x if x < 1000 else "%.0f" % x)

def ratio(a, b):
    return "-" if a is None or not b else "%.2fx" % (a / b)

print()
print("rs:4+2, fio nbd engine, one connection")
print("%-26s %10s %10s %10s %10s %10s" % ("workload", "files", "depots", "depots+%sms" % delay, "dep/files",
                                          "delay/files"))
for job, label in [("seqwrite-1m-qd8", "1M seq write QD8, MiB/s"), ("seqread-1m-qd8", "1M seq read QD8, MiB/s"),
                   ("randwrite-4k-qd32", "4K rand write QD32, IOPS"), ("randread-4k-qd32", "4K rand read QD32, IOPS")]:
    f, d, l = rate("files", job), rate("depots", job), rate("delayed", job)
    print("%-26s %10s %10s %10s %10s %10s" % (label, fmt(f), fmt(d), fmt(l), ratio(d, f), ratio(l, f)))
PY
