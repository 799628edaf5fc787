#!/usr/bin/env bash
# Runs Tessera, nbdkit's memory plugin, nbdkit's file plugin and qemu-nbd
# (qcow2) side by side, in one run, on the same disk, with the fio jobs in
# fio-jobs/, and prints IOPS and bandwidth per engine with the ratios
# tessera/nbdkit-memory (the transport's ceiling), tessera/nbdkit-file and
# tessera/qemu-nbd, each server's CPU time per request, and each server's
# peak RSS (VmHWM).
#
#   scripts/bench.sh [--quick] [--size SIZE] [--runtime SEC] [--io-limit SIZE]
#                    [--dir DIR] [--vdevs N] [--layout simple|stripe:N]
#   scripts/bench.sh --redundancy [--quick] [--size SIZE] [--runtime SEC] [--dir DIR]
#   scripts/bench.sh --snapshots [--quick] [--size SIZE] [--runtime SEC]
#                    [--snapshots-count N] [--dir DIR]
#   scripts/bench.sh --tiering [--quick] [--hot SIZE] [--delay MS] [--runtime SEC] [--dir DIR]
#   scripts/bench.sh --depots [--quick] [--size SIZE] [--delay MS] [--runtime SEC] [--dir DIR]
#
#   --redundancy rs:4+2 against stripe:4 (1M sequential write and read),
#                degraded read with 2 vdevs lost against healthy, and the
#                erasure-code encode throughput against memcpy
#                (scripts/bench-redundancy.sh)
#   --snapshots  4K random writes with 100 snapshots against none, and the
#                latency of creating a snapshot with 1,000 already there,
#                against qemu qcow2 internal snapshots
#                (scripts/bench-snapshots.sh; --snapshots-count N sets 1,000)
#   --tiering    4K random reads of a hot set on a slow tier of delayed nbd
#                depots, before and after automatic tiering moved it up,
#                against a volume on the fast tier (scripts/bench-tiering.sh)
#   --depots     rs:4+2 over 6 nbd depots against the same over 6 local
#                files, and over depots with added latency
#                (scripts/bench-depots.sh)
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
#  1. The four servers run at the same time and every workload runs on each
#     engine in turn before the next workload starts, so background noise
#     spreads evenly over the engines.
#  2. Engines: tessera = nbdkit + the plugin on a fresh pool; nbdkit-memory =
#     `nbdkit memory` (no work per request: what the NBD transport alone
#     costs, the ceiling of any nbdkit plugin); nbdkit-file =
#     `nbdkit file` on a preallocated raw file (its defaults: the page cache,
#     fdatasync on flush); qemu-nbd = a fresh qcow2 image with --cache=none
#     and --aio=io_uring (threads when io_uring is refused).
#  3. Order: precondition (write the whole device), sequential read, random
#     read (one connection, then four), random write (one connection, then
#     four), sequential write, random write + flush. Write jobs stop at
#     --runtime or --io-limit (shared by the four connections), whichever
#     comes first.
#  4. Only processes started here are stopped, by pid; --dir's work directory
#     is removed on exit.
#  5. CPU per request: the server's utime + stime (/proc/PID/stat) from the
#     end of the job's ramp to its end, divided by the requests fio counted
#     (fio counts after the ramp too). When both
#     servers keep a core busy, this is the measure of each one's own cost;
#     tessera's minus nbdkit-memory's is what Tessera adds to the transport.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=bench
source scripts/bench-common.sh

SIZE=1g
RUNTIME=20
IO_LIMIT=
DIR=$ROOT/var/bench
VDEVS=2
LAYOUT=simple
QUICK=0
for arg in "$@"; do
  [ "$arg" = --tiering ] && exec "$ROOT/scripts/bench-tiering.sh" "$@"
  [ "$arg" = --redundancy ] && exec "$ROOT/scripts/bench-redundancy.sh" "$@"
  [ "$arg" = --depots ] && exec "$ROOT/scripts/bench-depots.sh" "$@"
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
if [ ! -x "$TESSERA" ] || [ ! -f "$PLUGIN" ]; then
  echo "bench: building (no $TESSERA or $PLUGIN yet)"
  TESSERA_BUILD_DIR=$BUILD_DIR scripts/build.sh
fi

# Tessera's log-structured pool takes every byte written until it is
# cleaned: size it for the preconditioning pass plus four write jobs.
POOL_B=$(((SIZE_B + 4 * IO_LIMIT_B) * 5 / 4 + (256 << 20)))
VDEV_MB=$(((POOL_B / VDEVS + (1 << 20) - 1) >> 20))
NEED_B=$((POOL_B + 2 * SIZE_B + (1 << 30)))
mkdir -p "$DIR"
AVAIL_B=$(df -B1 --output=avail "$DIR" | tail -n 1)
if [ "$AVAIL_B" -lt "$NEED_B" ]; then
  echo "bench: $DIR has $((AVAIL_B >> 20)) MiB free; this run needs about $((NEED_B >> 20)) MiB" \
    "(use a smaller --size or --io-limit, or another --dir)" >&2
  exit 1
fi

bench_workdir "$DIR" run


echo "bench: device $((SIZE_B >> 20)) MiB, ${RUNTIME} s per job, write jobs capped at" \
  "$((IO_LIMIT_B >> 20)) MiB; work dir $W ($(df --output=source "$DIR" | tail -n 1))"

# --- Tessera ---
"$TESSERA" pool create --pool "$W/pool" --vdevs "$VDEVS" --size "${VDEV_MB}M" >"$W/tessera-setup.log"
"$TESSERA" volume create bench --pool "$W/pool" --size "$SIZE_B" --layout "$LAYOUT" >>"$W/tessera-setup.log"
nbdkit -f --exit-with-parent -U "$W/tessera.sock" "$PLUGIN" pool="$W/pool" >"$W/tessera.log" 2>&1 &
TESSERA_PID=$!
PIDS+=("$TESSERA_PID")
bench_wait_for_socket tessera "$TESSERA_PID" "$W/tessera.sock" bench

# --- nbdkit memory ---
nbdkit -f --exit-with-parent -U "$W/memory.sock" memory "$SIZE_B" >"$W/nbdkit-memory.log" 2>&1 &
MEMORY_PID=$!
PIDS+=("$MEMORY_PID")
bench_wait_for_socket nbdkit-memory "$MEMORY_PID" "$W/memory.sock"

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

ENGINES=(tessera nbdkit-memory nbdkit-file qemu-nbd)
declare -A URIS=(
  [tessera]="nbd+unix:///bench?socket=$W/tessera.sock"
  [nbdkit-memory]="nbd+unix:///?socket=$W/memory.sock"
  [nbdkit-file]="nbd+unix:///?socket=$W/file.sock"
  [qemu-nbd]="nbd+unix:///?socket=$W/qemu.sock"
)
declare -A SERVER_PIDS=([tessera]=$TESSERA_PID [nbdkit-memory]=$MEMORY_PID [nbdkit-file]=$FILE_PID
  [qemu-nbd]=$QEMU_PID)


# run_job JOB ENGINE: fio-jobs/JOB.fio against ENGINE; JSON in $W/res/.
mkdir -p "$W/res"
run_job() {
  local job=$1 engine=$2 before fio_pid ramp
  ramp=$(sed -n 's/^ramp_time=//p' "fio-jobs/$job.fio")
  URI=${URIS[$engine]} SIZE=$SIZE_B RUNTIME=$RUNTIME IO_LIMIT=$IO_LIMIT_B \
    IO_LIMIT_PER_JOB=$((IO_LIMIT_B / 4)) \
    fio --output-format=json --output="$W/res/$job.$engine.json" "fio-jobs/$job.fio" \
    >"$W/res/$job.$engine.err" 2>&1 &
  fio_pid=$!
  sleep "${ramp:-0}"
  # A job that ended within its ramp has no steady state to measure.
  before=
  kill -0 "$fio_pid" 2>/dev/null && before=$(bench_cpu_ticks "${SERVER_PIDS[$engine]}")
  wait "$fio_pid" || true
  kill -0 "${SERVER_PIDS[$engine]}" 2>/dev/null || {
    echo "bench: the $engine server died during $job: $(tail -n 5 "$W/$engine.log" 2>/dev/null)" >&2
    exit 1
  }
  if [ -n "$before" ]; then
    echo $(($(bench_cpu_ticks "${SERVER_PIDS[$engine]}") - before)) >"$W/res/$job.$engine.cpu"
  fi
  if [ "$engine" = tessera ]; then
    echo "$job $(awk '/^VmRSS/ {print $2}' "/proc/$TESSERA_PID/status")" >>"$W/res/tessera-rss"
  fi
}

start=$SECONDS
JOBS=(seqread-1m-qd8 randread-4k-qd32 randread-4k-qd32-4conn randwrite-4k-qd32 randwrite-4k-qd32-4conn
  seqwrite-1m-qd8 randwrite-4k-fsync1)
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

python3 - "$W/res" "$SIZE_B" "$RUNTIME" "$IO_LIMIT_B" "$LAYOUT" "$QEMU_AIO" "$(getconf CLK_TCK)" \
  "${HWM[tessera]}" "${HWM[nbdkit-memory]}" "${HWM[nbdkit-file]}" "${HWM[qemu-nbd]}" \
  "$((SECONDS - start))" <<'PY' | tee "$DIR/last-bench.txt"
import os, sys

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, "scripts")
import bench_fio  # noqa: E402

res, size, runtime, io_limit, layout, qemu_aio, clk_tck = sys.argv[1:8]
engines = ["tessera", "nbdkit-memory", "nbdkit-file", "qemu-nbd"]
hwm = dict(zip(engines, sys.argv[8:12]))
elapsed = sys.argv[12]
# job -> (label, metric, goal: (ratio, peer) or None)
jobs = [
    ("precondition", "precondition 1M seq write", "bw", None),
    ("seqread-1m-qd8", "1M seq read QD8", "bw", (0.9, "nbdkit-memory")),
    ("randread-4k-qd32", "4K rand read QD32", "iops", (0.8, "nbdkit-memory")),
    ("randread-4k-qd32-4conn", "4K rand read QD32 x4 conn", "iops", (0.8, "nbdkit-memory")),
    ("randwrite-4k-qd32", "4K rand write QD32", "iops", (0.7, "nbdkit-memory")),
    ("randwrite-4k-qd32-4conn", "4K rand write QD32 x4 conn", "iops", (0.7, "nbdkit-memory")),
    ("seqwrite-1m-qd8", "1M seq write QD8", "bw", (0.8, "nbdkit-memory")),
    ("randwrite-4k-fsync1", "4K rand write+flush", "iops", (1.5, "nbdkit-file")),
]
short = {"nbdkit-memory": "mem", "nbdkit-file": "file", "qemu-nbd": "qemu"}


def result(job, engine):
    path = os.path.join(res, "%s.%s.json" % (job, engine))
    try:
        j = bench_fio.first_job(path)
    except (OSError, ValueError):
        return None, "no output"
    if j.get("error"):
        err = open(path.replace(".json", ".err")).read().strip().splitlines()
        return None, "error %d: %s" % (j["error"], err[0] if err else "")
    rw = bench_fio.direction(j)
    out = {"iops": j[rw]["iops"], "bw": j[rw]["bw"] / 1024.0}
    try:
        ticks = int(open(path.replace(".json", ".cpu")).read())
        if bench_fio.requests(j) > 0:
            out["cpu_us"] = bench_fio.cpu_us_per_request(ticks, int(clk_tck), j)
    except (OSError, ValueError, KeyError):
        pass
    return out, None


def fmt(v, metric):
    if v is None:
        return "ERR"
    return "%.0f" % v if metric == "iops" else "%.1f" % v


def ratio(a, b):
    return "%.2fx" % (a / b) if a is not None and b else "-"


print()
print("Tessera (%s volume) vs nbdkit memory, nbdkit file and qemu-nbd qcow2 (cache=none, aio=%s)"
      % (layout, qemu_aio))
print("device %d MiB, %s s per job, writes capped at %d MiB per job; run took %s s"
      % (int(size) >> 20, runtime, int(io_limit) >> 20, elapsed))
print()
head = "%-27s %-5s %9s %9s %9s %9s %7s %7s %7s  %s" % (
    "workload", "unit", "tessera", "memory", "file", "qemu", "t/mem", "t/file", "t/qemu", "goal")
print(head)
print("-" * len(head))
errors = []
results = {}
for job, label, metric, goal in jobs:
    vals = {}
    for e in engines:
        r, err = result(job, e)
        results[(job, e)] = r
        vals[e] = r[metric] if r else None
        if err:
            errors.append("%s on %s: %s" % (job, e, err))
    t = vals["tessera"]
    goal_text = ""
    if goal is not None:
        want, peer = goal
        p = vals[peer]
        ok = t is not None and p and t / p >= want
        goal_text = "%s>=%.1fx %s" % ("met " if ok else "MISSED ", want, short[peer])
    print("%-27s %-5s %9s %9s %9s %9s %7s %7s %7s  %s" % (
        label, "IOPS" if metric == "iops" else "MiB/s",
        fmt(t, metric), fmt(vals["nbdkit-memory"], metric), fmt(vals["nbdkit-file"], metric),
        fmt(vals["qemu-nbd"], metric), ratio(t, vals["nbdkit-memory"]),
        ratio(t, vals["nbdkit-file"]), ratio(t, vals["qemu-nbd"]), goal_text))

print()
print("4 connections against 1 (goal: not lower):")
for one, four, label in [("randread-4k-qd32", "randread-4k-qd32-4conn", "4K rand read QD32"),
                         ("randwrite-4k-qd32", "randwrite-4k-qd32-4conn", "4K rand write QD32")]:
    cells = []
    for e in engines:
        a, b = results.get((one, e)), results.get((four, e))
        cells.append("%s %s" % (short.get(e, e), ratio(b and b["iops"], a and a["iops"])))
    print("  %-20s %s" % (label, ", ".join(cells)))

print()
print("server CPU per request (us; tessera's own cost = tessera - memory):")
head = "  %-27s %9s %9s %9s %9s %9s" % ("workload", "tessera", "memory", "file", "qemu", "own")
print(head)
for job, label, metric, goal in jobs:
    cpu = {e: (results.get((job, e)) or {}).get("cpu_us") for e in engines}
    cell = lambda v: "%.1f" % v if v is not None else "-"
    own = cpu["tessera"] - cpu["nbdkit-memory"] if cpu["tessera"] is not None and \
        cpu["nbdkit-memory"] is not None and job != "precondition" else None
    print("  %-27s %9s %9s %9s %9s %9s" % (label, cell(cpu["tessera"]), cell(cpu["nbdkit-memory"]),
                                          cell(cpu["nbdkit-file"]), cell(cpu["qemu-nbd"]), cell(own)))
print()
print("peak RSS (VmHWM): tessera %.1f MiB, nbdkit-memory %.1f MiB, nbdkit-file %.1f MiB, "
      "qemu-nbd %.1f MiB" % tuple(int(hwm[e]) / 1024.0 for e in engines))
try:
    rss = [l.split() for l in open(os.path.join(res, "tessera-rss"))]
    print("tessera RSS after each job (MiB): " +
          ", ".join("%s %.0f" % (j, int(k) / 1024.0) for j, k in rss))
except OSError:
    pass
for e in errors:
    print("ERROR: " + e)
PY
