#!/usr/bin/env bash
# The redundancy benchmark (run as `scripts/bench.sh --redundancy`, or
# directly): one server, one pool of 1 metadata vdev + 6 data vdevs, two
# volumes side by side: rs:4+2 (over the 6) and stripe:4 (over 4 of them).
# Prints 1M sequential write and read on each with the ratio rs/stripe, then
# 1M sequential read of the rs volume with 2 data vdevs taken offline
# (`tessera vdev offline` through the control socket) against healthy; then
# the encode throughput table of build/bench/erasure_bench (per method,
# against memcpy, one core) when that program is built.
#
#   scripts/bench-redundancy.sh [--quick] [--size SIZE] [--runtime SEC] [--dir DIR]
#
#   --quick      256 MiB volumes, 3 s per job, a short erasure_bench
#   --size       size of each volume (default 1g); also the bytes written
#   --runtime    seconds per job at most (default 20)
#   --dir        where the pool goes (default ./var/bench); removed afterwards
#
# Design notes
#  1. Every workload runs on both volumes in turn before the next starts,
#     so background noise spreads over both.
#  2. The volumes' data cache (256 MiB) is smaller than a default volume, so
#     sequential reads reach the devices; with --quick it is not, so --quick
#     numbers include cache hits (say so when quoting them).
#  3. Only the server started here is stopped, by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=bench
source scripts/bench-common.sh

SIZE=1g
RUNTIME=20
DIR=$ROOT/var/bench
QUICK=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p' | sed '/^Design notes/,$d'; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; SIZE=256m; RUNTIME=3 ;;
    --size) SIZE=$2; shift ;;
    --runtime) RUNTIME=$2; shift ;;
    --dir) DIR=$2; shift ;;
    --redundancy) ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
SIZE_B=$(bench_bytes "$SIZE")
bench_check_runtime "$RUNTIME"
bench_require fio nbdkit nbdinfo python3
[ -x "$TESSERA" ] && [ -f "$PLUGIN" ] || { echo "bench: build first (scripts/build.sh)" >&2; exit 1; }

bench_workdir "$DIR" redundancy

# Each data vdev takes a share of both volumes (rs: 1.6 x size over 6,
# stripe: size over 4), with room to spare; files are sparse.
VDEV_MB=$(((SIZE_B >> 20) + 256))
args=(--vdev "tier=fastest,path=meta.img,size=512M,name=meta")
for i in 0 1 2 3 4 5; do args+=(--vdev "tier=slow,path=d$i.img,size=${VDEV_MB}M,name=d$i"); done
"$TESSERA" pool create --pool "$W/pool" "${args[@]}" >"$W/setup.log"
"$TESSERA" volume create rs --pool "$W/pool" --size "$SIZE_B" --layout rs:4+2 >>"$W/setup.log"
"$TESSERA" volume create stripe --pool "$W/pool" --size "$SIZE_B" --layout stripe:4 >>"$W/setup.log"
nbdkit -f --exit-with-parent -U "$W/nbd.sock" "$PLUGIN" pool="$W/pool" >"$W/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for ((i = 0; i < 300; i++)); do
  nbdinfo --size "nbd+unix:///rs?socket=$W/nbd.sock" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "bench: server exited: $(tail -n 5 "$W/server.log")" >&2; exit 1; }
  sleep 0.1
done
echo "bench: redundancy, volumes of $((SIZE_B >> 20)) MiB, at most ${RUNTIME} s per job; work dir $W"

mkdir -p "$W/res"
# run_job JOB VOLUME TAG
run_job() {
  URI="nbd+unix:///$2?socket=$W/nbd.sock" SIZE=$SIZE_B RUNTIME=$RUNTIME IO_LIMIT=$SIZE_B \
    fio --output-format=json --output="$W/res/$3.json" "fio-jobs/$1.fio" >"$W/res/$3.err" 2>&1 || true
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "bench: the server died during $3: $(tail -n 5 "$W/server.log")" >&2; exit 1; }
}
for vol in rs stripe; do echo "bench: 1M seq write on $vol"; run_job seqwrite-1m-qd8 "$vol" "write.$vol"; done
for vol in rs stripe; do echo "bench: 1M seq read on $vol"; run_job seqread-1m-qd8 "$vol" "read.$vol"; done
echo "bench: 1M seq read on rs with d1 and d4 offline"
"$TESSERA" vdev offline d1 --pool "$W/pool" >/dev/null
"$TESSERA" vdev offline d4 --pool "$W/pool" >/dev/null
run_job seqread-1m-qd8 rs "read.rs-degraded"
"$TESSERA" vdev online d1 --pool "$W/pool" >/dev/null
"$TESSERA" vdev online d4 --pool "$W/pool" >/dev/null

python3 - "$W/res" <<'PY' | tee "$DIR/last-bench-redundancy.txt"
import json, os, sys
res = sys.argv[1]

def mibs(tag):
    try:
        text = open(os.path.join(res, tag + ".json")).read()
        j = json.loads(text[text.index("{"):])["jobs"][0]
    except (OSError, ValueError, KeyError):
        return None
    if j.get("error"):
        return None
    rw = "read" if j["read"]["io_bytes"] > 0 else "write"
    return j[rw]["bw"] / 1024.0

def row(label, a, b, goal):
    x, y = mibs(a), mibs(b)
    ratio = x / y if x and y else None
    verdict = "" if ratio is None else ("met" if ratio >= goal else "MISSED") + " >=%.1fx" % goal
    print("%-40s %10s %10s %8s  %s" % (label, "%.1f" % x if x else "ERR", "%.1f" % y if y else "ERR",
                                        "%.2fx" % ratio if ratio else "-", verdict))

print()
print("%-40s %10s %10s %8s" % ("MiB/s", "A", "B", "A/B"))
row("1M seq write: A rs:4+2, B stripe:4", "write.rs", "write.stripe", 0.8)
row("1M seq read:  A rs:4+2, B stripe:4", "read.rs", "read.stripe", 0.8)
row("1M seq read rs:4+2: A 2 vdevs lost, B healthy", "read.rs-degraded", "read.rs", 0.5)
PY

if [ -x "$BUILD_DIR/bench/erasure_bench" ]; then
  echo
  echo "bench: encode throughput (build/bench/erasure_bench, one core)"
  filter='memcpy|encode'
  min_time=0.5
  [ "$QUICK" = 1 ] && { filter='memcpy/256K|encode/(cauchy_good|reed_sol_van)/256K'; min_time=0.1; }
  "$BUILD_DIR/bench/erasure_bench" --benchmark_filter="$filter" --benchmark_min_time="$min_time" 2>/dev/null |
    sed -n '/^encode, K=/,$p' | sed '/^segments over/,$d'
else
  echo "bench: build/bench/erasure_bench is not built; encode throughput skipped"
fi
