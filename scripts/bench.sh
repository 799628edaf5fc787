#!/usr/bin/env bash
# Runs Tessera, nbdkit's file plugin and qemu-nbd (qcow2) side by side, in one
# run, on the same disk, with the fio jobs in fio-jobs/, and prints IOPS and
# bandwidth per engine with the ratios tessera/nbdkit-file and
# tessera/qemu-nbd, plus each server's peak RSS (VmHWM).
#
#   scripts/bench.sh [--quick] [--size SIZE] [--runtime SEC] [--io-limit SIZE]
#                    [--dir DIR] [--vdevs N] [--layout simple|stripe:N]
#   scripts/bench.sh --redundancy [--quick] [--size SIZE] [--runtime SEC] [--dir DIR]
#   scripts/bench.sh --snapshots [--quick] [--size SIZE] [--runtime SEC]
#                    [--snapshots-count N] [--dir DIR]
#
#   --redundancy rs:4+2 against stripe:4 (1M sequential write and read),
#                degraded read with 2 vdevs lost against healthy, and the
#                erasure-code encode throughput against memcpy
#                (scripts/bench-redundancy.sh)
#   --snapshots  4K random writes with 100 snapshots against none, and the
#                latency of creating a snapshot with 1,000 already there,
#                against qemu qcow2 internal snapshots
#                (scripts/bench-snapshots.sh; --snapshots-count N sets 1,000)
#   --quick      512 MiB device, 5 s per job (about 2 minutes in all)
#   --size       device size of every engine (default 1g)
#   --runtime    seconds per job (default 20)
#   --io-limit   bytes written at most by each write job (default 2 x size);
#                Tessera's pool is sized from it
#   --dir        where the images and the pool go (default ./var/bench; the
#                same filesystem for all three engines); removed afterwards
#   --vdevs      vdevs in Tessera's pool (default 2)
#   --layout     Tessera volume layout (default simple)
#
# Design notes
#  1. The three servers run at the same time and every workload runs on each
#     engine in turn before the next workload starts, so background noise
#     spreads evenly over the engines.
#  2. Engines: tessera = nbdkit + the plugin on a fresh pool; nbdkit-file =
#     `nbdkit file` on a preallocated raw file (its defaults: the page cache,
#     fdatasync on flush); qemu-nbd = a fresh qcow2 image with --cache=none
#     and --aio=io_uring (threads when io_uring is refused).
#  3. Order: precondition (write the whole device), sequential read, random
#     read, random write, sequential write, random write + flush. Write jobs
#     stop at --runtime or --io-limit, whichever comes first.
#  4. Only processes started here are stopped, by pid; --dir's work directory
#     is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=bench
source scripts/bench-common.sh
ROOT=$PWD
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

SIZE=1g
RUNTIME=20
IO_LIMIT=
DIR=$ROOT/var/bench
VDEVS=2
LAYOUT=simple
QUICK=0
for arg in "$@"; do
  [ "$arg" = --redundancy ] && exec "$ROOT/scripts/bench-redundancy.sh" "$@"
  if [ "$arg" = --snapshots ]; then
    rest=()
    for a in "$@"; do
      case $a in --snapshots) ;; --snapshots-count) rest+=(--snapshots) ;; *) rest+=("$a") ;; esac
    done
    exec "$ROOT/scripts/bench-snapshots.sh" "${rest[@]}"
  fi
done
usage() { sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p' | sed '/^Design notes/,$d'; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; SIZE=512m; RUNTIME=5 ;;
    --size) SIZE=$2; shift ;;
    --runtime) RUNTIME=$2; shift ;;
    --io-limit) IO_LIMIT=$2; shift ;;
    --dir) DIR=$2; shift ;;
    --vdevs) VDEVS=$2; shift ;;
    --layout) LAYOUT=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

SIZE_B=$(bench_bytes "$SIZE")
IO_LIMIT_B=$(bench_bytes "${IO_LIMIT:-$((2 * SIZE_B))}")
bench_check_runtime "$RUNTIME"

bench_require fio nbdkit qemu-img qemu-nbd nbdinfo python3
TESSERA=$BUILD_DIR/admin/tessera
PLUGIN=$BUILD_DIR/plugin/nbdkit-tessera-plugin.so
if [ ! -x "$TESSERA" ] || [ ! -f "$PLUGIN" ]; then
  echo "bench: building (no $TESSERA or $PLUGIN yet)"
  TESSERA_BUILD_DIR=$BUILD_DIR scripts/build.sh
fi

# Tessera's log-structured pool takes every byte written until it is
# cleaned: size it for the preconditioning pass plus three write jobs.
POOL_B=$(((SIZE_B + 3 * IO_LIMIT_B) * 5 / 4 + (256 << 20)))
VDEV_MB=$(((POOL_B / VDEVS + (1 << 20) - 1) >> 20))
NEED_B=$((POOL_B + 3 * SIZE_B + (1 << 30)))
mkdir -p "$DIR"
AVAIL_B=$(df -B1 --output=avail "$DIR" | tail -n 1)
if [ "$AVAIL_B" -lt "$NEED_B" ]; then
  echo "bench: $DIR has $((AVAIL_B >> 20)) MiB free; this run needs about $((NEED_B >> 20)) MiB" \
    "(use a smaller --size or --io-limit, or another --dir)" >&2
  exit 1
fi

W=$(mktemp -d "$DIR/run.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


echo "bench: device $((SIZE_B >> 20)) MiB, ${RUNTIME} s per job, write jobs capped at" \
  "$((IO_LIMIT_B >> 20)) MiB; work dir $W ($(df --output=source "$DIR" | tail -n 1))"

# --- Tessera ---
"$TESSERA" pool create --pool "$W/pool" --vdevs "$VDEVS" --size "${VDEV_MB}M" >"$W/tessera-setup.log"
"$TESSERA" volume create bench --pool "$W/pool" --size "$SIZE_B" --layout "$LAYOUT" >>"$W/tessera-setup.log"
nbdkit -f --exit-with-parent -U "$W/tessera.sock" "$PLUGIN" pool="$W/pool" >"$W/tessera.log" 2>&1 &
TESSERA_PID=$!
PIDS+=("$TESSERA_PID")
bench_wait_for_socket tessera "$TESSERA_PID" "$W/tessera.sock" bench

# --- nbdkit file ---
fallocate -l "$SIZE_B" "$W/file.raw" 2>/dev/null || truncate -s "$SIZE_B" "$W/file.raw"
nbdkit -f --exit-with-parent -U "$W/file.sock" file "$W/file.raw" >"$W/nbdkit-file.log" 2>&1 &
FILE_PID=$!
PIDS+=("$FILE_PID")
bench_wait_for_socket nbdkit-file "$FILE_PID" "$W/file.sock"

# --- qemu-nbd, qcow2 ---
qemu-img create -q -f qcow2 "$W/image.qcow2" "$SIZE_B"
QEMU_AIO=io_uring
start_qemu_nbd() {
  qemu-nbd -k "$W/qemu.sock" -f qcow2 --cache=none --aio="$QEMU_AIO" --persistent --shared=16 \
    "$W/image.qcow2" >"$W/qemu-nbd.log" 2>&1 &
  QEMU_PID=$!
}
start_qemu_nbd
sleep 0.5
if ! kill -0 "$QEMU_PID" 2>/dev/null; then
  echo "bench: qemu-nbd refused --aio=io_uring ($(tail -n 1 "$W/qemu-nbd.log")); using threads"
  QEMU_AIO=threads
  start_qemu_nbd
fi
PIDS+=("$QEMU_PID")
bench_wait_for_socket qemu-nbd "$QEMU_PID" "$W/qemu.sock"

ENGINES=(tessera nbdkit-file qemu-nbd)
declare -A URIS=(
  [tessera]="nbd+unix:///bench?socket=$W/tessera.sock"
  [nbdkit-file]="nbd+unix:///?socket=$W/file.sock"
  [qemu-nbd]="nbd+unix:///?socket=$W/qemu.sock"
)
declare -A SERVER_PIDS=([tessera]=$TESSERA_PID [nbdkit-file]=$FILE_PID [qemu-nbd]=$QEMU_PID)

# run_job JOB ENGINE: fio-jobs/JOB.fio against ENGINE; JSON in $W/res/.
mkdir -p "$W/res"
run_job() {
  local job=$1 engine=$2
  URI=${URIS[$engine]} SIZE=$SIZE_B RUNTIME=$RUNTIME IO_LIMIT=$IO_LIMIT_B \
    fio --output-format=json --output="$W/res/$job.$engine.json" "fio-jobs/$job.fio" \
    >"$W/res/$job.$engine.err" 2>&1 || true
  kill -0 "${SERVER_PIDS[$engine]}" 2>/dev/null || {
    echo "bench: the $engine server died during $job: $(tail -n 5 "$W/$engine.log" 2>/dev/null)" >&2
    exit 1
  }
  if [ "$engine" = tessera ]; then
    echo "$job $(awk '/^VmRSS/ {print $2}' "/proc/$TESSERA_PID/status")" >>"$W/res/tessera-rss"
  fi
}

start=$SECONDS
JOBS=(seqread-1m-qd8 randread-4k-qd32 randwrite-4k-qd32 seqwrite-1m-qd8 randwrite-4k-fsync1)
for engine in "${ENGINES[@]}"; do
  echo "bench: precondition $engine"
  run_job precondition "$engine"
done
for job in "${JOBS[@]}"; do
  for engine in "${ENGINES[@]}"; do
    echo "bench: $job on $engine"
    run_job "$job" "$engine"
  done
done

declare -A HWM
for engine in "${ENGINES[@]}"; do
  HWM[$engine]=$(awk '/^VmHWM/ {print $2}' "/proc/${SERVER_PIDS[$engine]}/status")
done

python3 - "$W/res" "$SIZE_B" "$RUNTIME" "$IO_LIMIT_B" "$LAYOUT" "$QEMU_AIO" \
  "${HWM[tessera]}" "${HWM[nbdkit-file]}" "${HWM[qemu-nbd]}" "$((SECONDS - start))" <<'PY' | tee "$DIR/last-bench.txt"
import json, os, sys

res, size, runtime, io_limit, layout, qemu_aio = sys.argv[1:7]
hwm = dict(zip(["tessera", "nbdkit-file", "qemu-nbd"], sys.argv[7:10]))
elapsed = sys.argv[10]
engines = ["tessera", "nbdkit-file", "qemu-nbd"]
# job -> (label, metric, goal vs nbdkit-file, goal vs qemu-nbd)
jobs = [
    ("precondition", "precondition 1M seq write", "bw", None, None),
    ("seqread-1m-qd8", "1M seq read QD8", "bw", 0.8, None),
    ("randread-4k-qd32", "4K rand read QD32", "iops", 0.8, None),
    ("randwrite-4k-qd32", "4K rand write QD32", "iops", 1.0, 2.0),
    ("seqwrite-1m-qd8", "1M seq write QD8", "bw", 0.8, None),
    ("randwrite-4k-fsync1", "4K rand write+flush", "iops", 1.5, None),
]


def result(job, engine):
    path = os.path.join(res, "%s.%s.json" % (job, engine))
    try:
        text = open(path).read()
        doc = json.loads(text[text.index("{"):])
    except (OSError, ValueError):
        return None, "no output"
    j = doc["jobs"][0]
    if j.get("error"):
        err = open(path.replace(".json", ".err")).read().strip().splitlines()
        return None, "error %d: %s" % (j["error"], err[0] if err else "")
    rw = "read" if j["read"]["io_bytes"] > 0 and j["write"]["io_bytes"] == 0 else "write"
    return {"iops": j[rw]["iops"], "bw": j[rw]["bw"] / 1024.0}, None


def fmt(v, metric):
    if v is None:
        return "ERR"
    return "%.0f" % v if metric == "iops" else "%.1f" % v


print()
print("Tessera (%s volume) vs nbdkit file vs qemu-nbd qcow2 (cache=none, aio=%s)"
      % (layout, qemu_aio))
print("device %d MiB, %s s per job, writes capped at %d MiB per job; run took %s s"
      % (int(size) >> 20, runtime, int(io_limit) >> 20, elapsed))
print()
head = "%-26s %-6s %10s %12s %10s %9s %9s  %s" % (
    "workload", "unit", "tessera", "nbdkit-file", "qemu-nbd", "t/file", "t/qemu", "goal")
print(head)
print("-" * len(head))
errors = []
for job, label, metric, goal_file, goal_qemu in jobs:
    vals = {}
    for e in engines:
        r, err = result(job, e)
        vals[e] = r[metric] if r else None
        if err:
            errors.append("%s on %s: %s" % (job, e, err))
    t, f, q = vals["tessera"], vals["nbdkit-file"], vals["qemu-nbd"]
    rf = t / f if t is not None and f else None
    rq = t / q if t is not None and q else None
    goal = []
    if goal_file is not None:
        ok = rf is not None and rf >= goal_file
        goal.append("%s>=%.1fx file" % ("met " if ok else "MISSED ", goal_file))
    if goal_qemu is not None:
        ok = rq is not None and rq >= goal_qemu
        goal.append("%s>=%.1fx qemu" % ("met " if ok else "MISSED ", goal_qemu))
    print("%-26s %-6s %10s %12s %10s %9s %9s  %s" % (
        label, "IOPS" if metric == "iops" else "MiB/s", fmt(t, metric), fmt(f, metric),
        fmt(q, metric), "%.2fx" % rf if rf is not None else "-",
        "%.2fx" % rq if rq is not None else "-", ", ".join(goal)))
print()
print("peak RSS (VmHWM): tessera %.1f MiB, nbdkit-file %.1f MiB, qemu-nbd %.1f MiB"
      % tuple(int(hwm[e]) / 1024.0 for e in engines))
try:
    rss = [l.split() for l in open(os.path.join(res, "tessera-rss"))]
    print("tessera RSS after each job (MiB): " +
          ", ".join("%s %.0f" % (j, int(k) / 1024.0) for j, k in rss))
except OSError:
    pass
for e in errors:
    print("ERROR: " + e)
PY
