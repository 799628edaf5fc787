#!/usr/bin/env bash
# Profiles the Tessera server under one fio job from fio-jobs/ with
# `perf record -g`, and prints the top symbols (self and children).
#
#   scripts/bench-profile.sh [--job JOB] [--size SIZE] [--runtime SEC]
#                            [--layout LAYOUT] [--vdevs N] [--dir DIR]
#                            [--top N] [--keep] [--call-graph fp|dwarf]
#
#   --job      a job of fio-jobs/ (default randwrite-4k-qd32)
#   --size     the volume's size (default 1g)
#   --runtime  seconds the job runs (default 10); perf records all of it
#   --layout   the volume's layout (default simple)
#   --vdevs    vdevs in the pool (default 2)
#   --dir      where the pool goes (default ./var/profile); removed afterwards
#   --top      symbols printed per listing (default 30)
#   --keep     keep perf.data in DIR (the rest is removed)
#   --call-graph  how perf unwinds (default fp; dwarf also unwinds through
#              libc, which has no frame pointers, at a higher cost)
#
# Design notes
#  1. The pool and volume are fresh; read jobs get fio-jobs/precondition.fio
#     first (not recorded), so reads find data.
#  2. The server's CPU time per request over the recorded job is printed
#     too, as scripts/bench.sh computes it, so a profile and a bench run can
#     be compared.
#  3. Only the server started here is stopped, by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=bench-profile
source scripts/bench-common.sh

JOB=randwrite-4k-qd32
SIZE=1g
RUNTIME=10
LAYOUT=simple
VDEVS=2
DIR=$ROOT/var/profile
TOP=30
KEEP=0
CALL_GRAPH=fp
usage() { sed -n '2,/^# Design notes/p' "$0" | sed -n 's/^# \{0,1\}//p' | sed '/^Design notes/d'; }
while [ $# -gt 0 ]; do
  case $1 in
    --job) JOB=$2; shift ;;
    --size) SIZE=$2; shift ;;
    --runtime) RUNTIME=$2; shift ;;
    --layout) LAYOUT=$2; shift ;;
    --vdevs) VDEVS=$2; shift ;;
    --dir) DIR=$2; shift ;;
    --top) TOP=$2; shift ;;
    --keep) KEEP=1 ;;
    --call-graph) CALL_GRAPH=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench-profile: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -f "fio-jobs/$JOB.fio" ] || { echo "bench-profile: no job fio-jobs/$JOB.fio" >&2; exit 2; }
SIZE_B=$(bench_bytes "$SIZE")
bench_check_runtime "$RUNTIME"
bench_require fio nbdkit nbdinfo perf
[ -x "$TESSERA" ] && [ -f "$PLUGIN" ] || TESSERA_BUILD_DIR=$BUILD_DIR scripts/build.sh --target tessera nbdkit-tessera-plugin

bench_workdir "$DIR" run
PERF_DATA=$W/perf.data
if [ "$KEEP" = 1 ]; then PERF_DATA=$DIR/perf.data; fi

# The pool takes the volume once plus what the job writes in its runtime.
VDEV_MB=$(((SIZE_B * 6 / VDEVS >> 20) + 256))
"$TESSERA" pool create --pool "$W/pool" --vdevs "$VDEVS" --size "${VDEV_MB}M" >/dev/null
"$TESSERA" volume create bench --pool "$W/pool" --size "$SIZE_B" --layout "$LAYOUT" >/dev/null
nbdkit -f --exit-with-parent -U "$W/tessera.sock" "$PLUGIN" pool="$W/pool" >"$W/tessera.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
bench_wait_for_socket tessera "$SERVER_PID" "$W/tessera.sock" bench
URI="nbd+unix:///bench?socket=$W/tessera.sock"
fio_env=(URI="$URI" SIZE="$SIZE_B" RUNTIME="$RUNTIME" IO_LIMIT=$((4 * SIZE_B)) IO_LIMIT_PER_JOB="$SIZE_B")
case $JOB in
  *read*) env "${fio_env[@]}" fio --output=/dev/null fio-jobs/precondition.fio ;;
esac

before=$(bench_cpu_ticks "$SERVER_PID")
perf record --call-graph "$CALL_GRAPH" -o "$PERF_DATA" -p "$SERVER_PID" -- \
  env "${fio_env[@]}" fio --output-format=json --output="$W/fio.json" "fio-jobs/$JOB.fio" 2>"$W/perf.err" >/dev/null
after=$(bench_cpu_ticks "$SERVER_PID")
python3 - "$W/fio.json" "$((after - before))" "$(getconf CLK_TCK)" "$JOB" <<'PY'
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, "scripts")
import bench_fio  # noqa: E402

j = bench_fio.first_job(sys.argv[1])
rw = bench_fio.direction(j)
print("%s: %.0f IOPS, %.1f MiB/s; server CPU %.1f us per request (ramp included)"
      % (sys.argv[4], j[rw]["iops"], j[rw]["bw"] / 1024.0,
         bench_fio.cpu_us_per_request(int(sys.argv[2]), int(sys.argv[3]), j)))
PY
echo
echo "== self =="
perf report -i "$PERF_DATA" --no-children --stdio --percent-limit 0.5 -g none 2>/dev/null |
  grep -v '^#' | grep -v '^$' | head -n "$TOP"
echo
echo "== children (inclusive) =="
perf report -i "$PERF_DATA" --children --stdio --percent-limit 2 -g none 2>/dev/null |
  grep -v '^#' | grep -v '^$' | head -n "$TOP"
