#!/usr/bin/env bash
# Snapshot benchmarks, Tessera against qemu qcow2 internal snapshots, in one
# run on the same disk:
#   1. 4K random writes (QD32) on a volume with 100 snapshots, against the
#      same job on a volume with none;
#   2. the latency of creating a snapshot when 1,000 already exist (median,
#      90th percentile and worst of the last 100 of 1,000 creations).
#
#   scripts/bench-snapshots.sh [--quick] [--size SIZE] [--runtime SEC]
#                              [--snapshots N] [--dir DIR]
#
#   --quick       128 MiB volumes, 5 s per write job, 300 snapshots
#   --size        volume / image size (default 256m)
#   --runtime     seconds per write job (default 10)
#   --snapshots   snapshots for the latency test (default 1000; at least 100)
#   --dir         where the pool and images go (default ./var/bench); removed
#                 afterwards
#
# Design notes
#  1. Each engine gets two volumes (images) filled the same way: one keeps no
#     snapshot, the other gets 100, each after 1 MiB of random writes. The
#     write job then runs on both, so the ratio compares like with like.
#  2. Tessera's snapshots are taken live, through the running server's
#     control socket (`tessera snapshot create`). qemu's internal snapshots
#     need the image closed, so `qemu-img snapshot -c` runs with qemu-nbd
#     stopped. Both latencies are those of the command a user runs, process
#     start included.
#  3. Only processes started here are stopped, by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=bench-snapshots
source scripts/bench-common.sh

SIZE=256m
RUNTIME=10
SNAPSHOTS=1000
DIR=$ROOT/var/bench
usage() { sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p' | sed '/^Design notes/,$d'; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) SIZE=128m; RUNTIME=5; SNAPSHOTS=300 ;;
    --size) SIZE=$2; shift ;;
    --runtime) RUNTIME=$2; shift ;;
    --snapshots) SNAPSHOTS=$2; shift ;;
    --dir) DIR=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench-snapshots: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
SIZE_B=$(bench_bytes "$SIZE")
bench_check_runtime "$RUNTIME"
[[ $SNAPSHOTS =~ ^[0-9]+$ ]] && [ "$SNAPSHOTS" -gt 100 ] || { echo "bench-snapshots: --snapshots must be more than 100 (the first 100 are made before the latency is measured)" >&2; exit 2; }
bench_require fio nbdkit qemu-img qemu-nbd qemu-io nbdinfo python3
[ -x "$TESSERA" ] && [ -f "$PLUGIN" ] || TESSERA_BUILD_DIR=$BUILD_DIR scripts/build.sh

# Each write job writes at most 4 x size; both volumes, plus the fills and
# what the snapshots pin, fit with room for the log to roll over.
IO_LIMIT_B=$((4 * SIZE_B))
VDEV_MB=$(((2 * (2 * SIZE_B + IO_LIMIT_B) + SNAPSHOTS * (1 << 20) + (512 << 20)) >> 20))
bench_workdir "$DIR" snap

now_us() { echo $(($(date +%s%N) / 1000)); }
# fio_job URI NAME ARGS...: prints IOPS of a 4K write job.
fio_iops() {
  local uri=$1 name=$2
  shift 2
  fio --name="$name" --ioengine=nbd --uri="$uri" --output-format=json "$@" >"$W/$name.json" 2>"$W/$name.err" || {
    echo "bench-snapshots: fio $name failed: $(tail -n 3 "$W/$name.err")" >&2
    exit 1
  }
  python3 -c 'import json,sys; t=open(sys.argv[1]).read(); print("%.0f" % json.loads(t[t.index("{"):])["jobs"][0]["write"]["iops"])' "$W/$name.json"
}
FILL=(--rw=write --bs=1m --iodepth=8 --size="$SIZE_B")
RANDWRITE=(--rw=randwrite --bs=4k --iodepth=32 --size="$SIZE_B" --io_size="$IO_LIMIT_B"
  --runtime="$RUNTIME" --time_based=0 --ramp_time=1 --randrepeat=0)
SMALL=(--rw=randwrite --bs=4k --iodepth=8 --size="$SIZE_B" --io_size=1m --randrepeat=0)

echo "bench-snapshots: volumes $((SIZE_B >> 20)) MiB, $RUNTIME s per write job, $SNAPSHOTS snapshots; work dir $W"

# --- Tessera ---
"$TESSERA" pool create --pool "$W/pool" --vdevs 2 --size "${VDEV_MB}M" >"$W/setup.log"
for v in plain snapped; do
  "$TESSERA" volume create "$v" --pool "$W/pool" --size "$SIZE_B" >>"$W/setup.log"
done
nbdkit -f --exit-with-parent -U "$W/t.sock" "$PLUGIN" pool="$W/pool" >"$W/tessera.log" 2>&1 &
TPID=$!
PIDS+=("$TPID")
bench_wait_for_socket tessera "$TPID" "$W/t.sock"
turi() { echo "nbd+unix:///$1?socket=$W/t.sock"; }
tsnap() { "$TESSERA" snapshot create --pool "$W/pool" "$1" >/dev/null; }

echo "bench-snapshots: tessera: filling, then 100 snapshots with writes between"
for v in plain snapped; do fio_iops "$(turi "$v")" "t-fill-$v" "${FILL[@]}" >/dev/null; done
for ((i = 1; i <= 100; i++)); do
  fio_iops "$(turi snapped)" t-small "${SMALL[@]}" >/dev/null
  tsnap "snapped@s$i"
done
echo "bench-snapshots: tessera: 4K random writes"
T0=$(fio_iops "$(turi plain)" t-rw-plain "${RANDWRITE[@]}")
T100=$(fio_iops "$(turi snapped)" t-rw-snapped "${RANDWRITE[@]}")
echo "bench-snapshots: tessera: creating snapshots up to $SNAPSHOTS"
: >"$W/t-lat"
for ((i = 101; i <= SNAPSHOTS; i++)); do
  t=$(now_us)
  tsnap "snapped@s$i"
  [ "$i" -gt $((SNAPSHOTS - 100)) ] && echo $(($(now_us) - t)) >>"$W/t-lat"
done
kill -TERM "$TPID"
wait "$TPID" 2>/dev/null || true

# --- qemu qcow2 internal snapshots ---
for v in plain snapped; do qemu-img create -q -f qcow2 "$W/$v.qcow2" "$SIZE_B"; done
QPID=
qserve() {
  qemu-nbd -k "$W/q.sock" -f qcow2 --cache=none --aio=threads --persistent --shared=16 "$W/$1.qcow2" \
    >"$W/qemu-nbd.log" 2>&1 &
  QPID=$!
  PIDS+=("$QPID")
  bench_wait_for_socket qemu-nbd "$QPID" "$W/q.sock"
}
qstop() {
  kill -TERM "$QPID"
  wait "$QPID" 2>/dev/null || true
  rm -f "$W/q.sock"
}
QURI="nbd+unix:///?socket=$W/q.sock"
echo "bench-snapshots: qemu: filling, then 100 internal snapshots with writes between"
for v in plain snapped; do
  qserve "$v"
  fio_iops "$QURI" "q-fill-$v" "${FILL[@]}" >/dev/null
  qstop
done
for ((i = 1; i <= 100; i++)); do
  qemu-io -f qcow2 -c "write -P $((i % 256)) $(((RANDOM * 32768 + RANDOM) % (SIZE_B >> 20) << 20)) 1M" \
    "$W/snapped.qcow2" >/dev/null
  qemu-img snapshot -c "s$i" "$W/snapped.qcow2"
done
echo "bench-snapshots: qemu: 4K random writes"
qserve plain
Q0=$(fio_iops "$QURI" q-rw-plain "${RANDWRITE[@]}")
qstop
qserve snapped
Q100=$(fio_iops "$QURI" q-rw-snapped "${RANDWRITE[@]}")
qstop
echo "bench-snapshots: qemu: creating internal snapshots up to $SNAPSHOTS"
: >"$W/q-lat"
for ((i = 101; i <= SNAPSHOTS; i++)); do
  t=$(now_us)
  qemu-img snapshot -c "s$i" "$W/snapped.qcow2"
  [ "$i" -gt $((SNAPSHOTS - 100)) ] && echo $(($(now_us) - t)) >>"$W/q-lat"
done

python3 - "$T0" "$T100" "$Q0" "$Q100" "$W/t-lat" "$W/q-lat" "$SNAPSHOTS" <<'PY' | tee "$DIR/last-bench-snapshots.txt"
import sys

t0, t100, q0, q100 = (float(x) for x in sys.argv[1:5])
n = int(sys.argv[7])


def lat(path):
    v = sorted(int(x) / 1000.0 for x in open(path).read().split())
    return v[len(v) // 2], v[int(len(v) * 0.9)], v[-1]


tl, ql = lat(sys.argv[5]), lat(sys.argv[6])
print()
print("%-44s %12s %12s" % ("", "tessera", "qemu qcow2"))
print("%-44s %12.0f %12.0f" % ("4K rand write QD32, no snapshots (IOPS)", t0, q0))
print("%-44s %12.0f %12.0f" % ("4K rand write QD32, 100 snapshots (IOPS)", t100, q100))
print("%-44s %11.2fx %11.2fx   goal >= 0.95x" % ("  ratio with / without", t100 / t0, q100 / q0))
print("%-44s %12.1f %12.1f   goal < 10 ms" % ("snapshot create, median of last 100 (ms)", tl[0], ql[0]))
print("%-44s %12.1f %12.1f" % ("snapshot create, 90th percentile (ms)", tl[1], ql[1]))
print("%-44s %12.1f %12.1f" % ("snapshot create, worst (ms)", tl[2], ql[2]))
print("(latencies with %d..%d snapshots already there; tessera live through the" % (n - 100, n - 1))
print(" server's control socket, qemu-img offline; both include process start)")
PY
