#!/usr/bin/env bash
# Compares two builds of the nbdkit plugin in one run: each serves its own
# fresh pool, and the fio job runs on A, then B, then A... for --rounds
# rounds, so a change of background load touches both alike. Prints each
# round, then the median of B/A for IOPS and for server CPU per request.
#
#   scripts/bench-ab.sh PLUGIN_A PLUGIN_B [--job JOB] [--size SIZE]
#                       [--runtime SEC] [--rounds N] [--layout LAYOUT]
#                       [--dir DIR]
#
#   PLUGIN_A/B a built nbdkit-tessera-plugin.so each (copy one aside before
#              rebuilding: cp build/plugin/nbdkit-tessera-plugin.so /tmp/a.so)
#   --job      a job of fio-jobs/ (default randwrite-4k-qd32)
#   --size     the volume's size (default 1g)
#   --runtime  seconds per job (default 8)
#   --rounds   rounds (default 5)
#   --layout   the volume's layout (default simple)
#   --dir      where the pools go (default ./var/bench-ab); removed afterwards
#
# Design notes
#  1. Each pool is created by the build's own server-side code path (the
#     plugin opens it); the CLI of the current build creates both, so the
#     on-disk format must be the same for A and B.
#  2. Read jobs get fio-jobs/precondition.fio on both first. Write jobs keep
#     writing over the rounds, so later rounds include cleaning for both.
#  3. Only the servers started here are stopped, by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=bench-ab
source scripts/bench-common.sh

usage() { sed -n '2,/^# Design notes/p' "$0" | sed -n 's/^# \{0,1\}//p' | sed '/^Design notes/d'; }
PLUGINS=()
JOB=randwrite-4k-qd32
SIZE=1g
RUNTIME=8
ROUNDS=5
LAYOUT=simple
DIR=$ROOT/var/bench-ab
while [ $# -gt 0 ]; do
  case $1 in
    --job) JOB=$2; shift ;;
    --size) SIZE=$2; shift ;;
    --runtime) RUNTIME=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --layout) LAYOUT=$2; shift ;;
    --dir) DIR=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "bench-ab: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    *) PLUGINS+=("$(realpath "$1")") ;;
  esac
  shift
done
[ ${#PLUGINS[@]} -eq 2 ] || { echo "bench-ab: give two plugins, A and B (see --help)" >&2; exit 2; }
for p in "${PLUGINS[@]}"; do [ -f "$p" ] || { echo "bench-ab: no plugin $p" >&2; exit 2; }; done
[ -f "fio-jobs/$JOB.fio" ] || { echo "bench-ab: no job fio-jobs/$JOB.fio" >&2; exit 2; }
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bench-ab: bad --rounds '$ROUNDS'" >&2; exit 2; }
SIZE_B=$(bench_bytes "$SIZE")
bench_check_runtime "$RUNTIME"
bench_require fio nbdkit nbdinfo
[ -x "$TESSERA" ] || TESSERA_BUILD_DIR=$BUILD_DIR scripts/build.sh --target tessera

bench_workdir "$DIR" run

# Each pool holds the volume and what the rounds write (bounded by IO_LIMIT).
IO_LIMIT_B=$((2 * SIZE_B))
VDEV_MB=$((((SIZE_B + ROUNDS * IO_LIMIT_B) * 5 / 4 / 2 >> 20) + 256))
declare -A URI SERVER
for side in A B; do
  plugin=${PLUGINS[0]}
  [ "$side" = B ] && plugin=${PLUGINS[1]}
  "$TESSERA" pool create --pool "$W/$side" --vdevs 2 --size "${VDEV_MB}M" >/dev/null
  "$TESSERA" volume create bench --pool "$W/$side" --size "$SIZE_B" --layout "$LAYOUT" >/dev/null
  nbdkit -f --exit-with-parent -U "$W/$side.sock" "$plugin" pool="$W/$side" >"$W/$side.log" 2>&1 &
  SERVER[$side]=$!
  PIDS+=("${SERVER[$side]}")
  bench_wait_for_socket "$side" "${SERVER[$side]}" "$W/$side.sock" bench
  URI[$side]="nbd+unix:///bench?socket=$W/$side.sock"
  case $JOB in
    *read*) URI=${URI[$side]} SIZE=$SIZE_B fio --output=/dev/null fio-jobs/precondition.fio ;;
  esac
done

for ((round = 1; round <= ROUNDS; round++)); do
  for side in A B; do
    before=$(bench_cpu_ticks "${SERVER[$side]}")
    URI=${URI[$side]} SIZE=$SIZE_B RUNTIME=$RUNTIME IO_LIMIT=$IO_LIMIT_B IO_LIMIT_PER_JOB=$((IO_LIMIT_B / 4)) \
      fio --output-format=json --output="$W/$round.$side.json" "fio-jobs/$JOB.fio" >/dev/null 2>&1 || true
    echo $(($(bench_cpu_ticks "${SERVER[$side]}") - before)) >"$W/$round.$side.cpu"
    kill -0 "${SERVER[$side]}" 2>/dev/null || { echo "bench-ab: server $side died: $(tail -n 3 "$W/$side.log")" >&2; exit 1; }
  done
done

python3 - "$W" "$ROUNDS" "$(getconf CLK_TCK)" "$JOB" <<'PY'
import os, statistics, sys

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, "scripts")
import bench_fio  # noqa: E402

w, rounds, clk, job = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]


def load(r, side):
    j = bench_fio.first_job(os.path.join(w, "%d.%s.json" % (r, side)))
    # fio counts requests after the ramp; the CPU ticks cover it too.
    ticks = int(open(os.path.join(w, "%d.%s.cpu" % (r, side))).read())
    return j[bench_fio.direction(j)]["iops"], bench_fio.cpu_us_per_request(ticks, clk, j)


print("%s, A then B each round (CPU per request includes the ramp)" % job)
print("%-6s %10s %10s %8s %12s %12s %8s" % ("round", "A IOPS", "B IOPS", "B/A", "A us/req", "B us/req", "B/A"))
iops_ratio, cpu_ratio = [], []
for r in range(1, rounds + 1):
    (ia, ca), (ib, cb) = load(r, "A"), load(r, "B")
    iops_ratio.append(ib / ia if ia else 0)
    cpu_ratio.append(cb / ca if ca else 0)
    print("%-6d %10.0f %10.0f %7.2fx %12.1f %12.1f %7.2fx" % (r, ia, ib, iops_ratio[-1], ca, cb, cpu_ratio[-1]))
print("median B/A: IOPS %.2fx, CPU per request %.2fx" % (statistics.median(iops_ratio),
                                                          statistics.median(cpu_ratio)))
PY
