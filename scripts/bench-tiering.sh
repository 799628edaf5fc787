#!/usr/bin/env bash
# The tiering benchmark (run as `scripts/bench.sh --tiering`, or directly):
# 4 KiB random reads at queue depth 32 of a volume's hot set (its first HOT
# bytes), on a pool whose slow tier is two nbd depots, each an nbdkit file
# export behind the delay filter (every request waits DELAY ms), and whose
# fast tier is a local file. One server, one run:
#   A. the hot set on the slow tier, with tiering off;
#   B. the same reads after automatic tiering moved the hot set up
#      (tiering = on; the reads themselves make it hot; the script waits
#      until `volume info` shows it off the slow tier and says how long);
#   C. a volume created on the fast tier: the ceiling (the metadata vdev,
#      the fastest tier, is a local file too; hot rows rise on to it).
# Prints the IOPS of each, B/A and B/C.
#
#   scripts/bench-tiering.sh [--quick] [--hot SIZE] [--delay MS] [--runtime SEC] [--dir DIR]
#
#   --quick      3 s per job
#   --hot        the hot set (default 32m; at most 256m, the volume's size)
#   --delay      each depot request's delay in ms (default 2)
#   --runtime    seconds per job (default 10)
#   --dir        where the pool goes (default ./var/bench); removed afterwards
#
# Design notes
#  1. The server's cache budget is 16 MiB (pool.conf `memory`), so the hot
#     set does not fit the volume's page cache and its reads reach the rows.
#  2. Only the servers started here are stopped, by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=bench-tiering
source scripts/bench-common.sh

HOT=32m
DELAY=2
RUNTIME=10
DIR=$ROOT/var/bench
usage() { sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p' | sed '/^Design notes/,$d'; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) RUNTIME=3 ;;
    --hot) HOT=$2; shift ;;
    --delay) DELAY=$2; shift ;;
    --runtime) RUNTIME=$2; shift ;;
    --dir) DIR=$2; shift ;;
    --tiering) ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$BENCH_NAME: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
HOT_B=$(bench_bytes "$HOT")
VOLUME_B=$((256 << 20))
((HOT_B >= 4096 && HOT_B <= VOLUME_B && HOT_B % 4096 == 0)) ||
  { echo "$BENCH_NAME: --hot must be 4k to 256m, whole 4 KiB blocks" >&2; exit 2; }
[[ $DELAY =~ ^[0-9]+$ ]] && ((DELAY <= 1000)) || { echo "$BENCH_NAME: --delay is whole ms, 0 to 1000" >&2; exit 2; }
bench_check_runtime "$RUNTIME"
bench_require fio nbdkit nbdinfo python3
[ -x "$TESSERA" ] && [ -f "$PLUGIN" ] || { echo "$BENCH_NAME: build first (scripts/build.sh)" >&2; exit 1; }

bench_workdir "$DIR" tiering
for i in 0 1; do
  truncate -s 512M "$W/depot$i.img"
  nbdkit -f --exit-with-parent -U "$W/depot$i.sock" --filter=delay file "$W/depot$i.img" \
    rdelay="${DELAY}ms" wdelay="${DELAY}ms" >"$W/depot$i.log" 2>&1 &
  PIDS+=($!)
  bench_wait_for_socket "depot$i" "$!" "$W/depot$i.sock"
done
"$TESSERA" pool create --pool "$W/pool" --vdev tier=fastest,path=meta.img,size=256M,name=meta \
  --vdev tier=fast,path=f0.img,size=1G,name=f0 \
  --vdev "kind=nbd,uri=nbd+unix:///?socket=$W/depot0.sock,tier=slow,name=d0" \
  --vdev "kind=nbd,uri=nbd+unix:///?socket=$W/depot1.sock,tier=slow,name=d1" >"$W/setup.log"
"$TESSERA" volume create hot --pool "$W/pool" --size "$VOLUME_B" --tier slow >>"$W/setup.log"
"$TESSERA" volume create ref --pool "$W/pool" --size "$VOLUME_B" --tier fast >>"$W/setup.log"
sed -i 's/^name = default$/name = default\nmemory = 16M/' "$W/pool/pool.conf"

SERVER_PID=
start_server() {
  rm -f "$W/nbd.sock"
  nbdkit -f --exit-with-parent -U "$W/nbd.sock" "$PLUGIN" pool="$W/pool" >>"$W/server.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  bench_wait_for_socket server "$SERVER_PID" "$W/nbd.sock" hot
}
stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || { echo "$BENCH_NAME: the server failed: $(tail -n 5 "$W/server.log")" >&2; exit 1; }
}
mkdir -p "$W/res"
# run_job JOB VOLUME TAG BYTES RUNTIME
run_job() {
  URI="nbd+unix:///$2?socket=$W/nbd.sock" SIZE=$4 RUNTIME=$5 IO_LIMIT=$4 \
    fio --output-format=json --output="$W/res/$3.json" "fio-jobs/$1.fio" >"$W/res/$3.err" 2>&1 ||
    { echo "$BENCH_NAME: fio failed in $3: $(tail -n 3 "$W/res/$3.err")" >&2; exit 1; }
}
# up_bytes: the bytes of the hot volume's rows above the slow tier (a row
# that stays hot rises on to the fastest tier).
up_bytes() {
  "$TESSERA" volume info hot --pool "$W/pool" --json | python3 -c '
import json, sys
print(sum(n for tier, n in json.load(sys.stdin)["tier_bytes"].items() if tier != "slow"))'
}

echo "$BENCH_NAME: hot set ${HOT_B} bytes of a 256 MiB volume, depots delayed ${DELAY} ms, ${RUNTIME} s per job; work dir $W"
start_server
run_job precondition hot fill.hot "$VOLUME_B" 60
run_job precondition ref fill.ref "$VOLUME_B" 60
echo "$BENCH_NAME: A, the hot set on the slow tier (tiering off)"
run_job randread-4k-qd32 hot A "$HOT_B" "$RUNTIME"
stop_server

sed -i 's/^name = default$/name = default\ntiering = on\ntiering-half-life = 5s/' "$W/pool/pool.conf"
start_server
start=$(date +%s)
for ((i = 0; i < 60; i++)); do
  (($(up_bytes) >= HOT_B)) && break
  run_job randread-4k-qd32 hot "warm.$i" "$HOT_B" 2
done
moved=$(up_bytes)
echo "$BENCH_NAME: tiering moved $((moved >> 20)) MiB of the hot volume up in $(($(date +%s) - start)) s"
echo "$BENCH_NAME: B, the hot set after it moved up"
run_job randread-4k-qd32 hot B "$HOT_B" "$RUNTIME"
echo "$BENCH_NAME: C, a volume on the fast tier"
run_job randread-4k-qd32 ref C "$HOT_B" "$RUNTIME"
"$TESSERA" pool status --pool "$W/pool" | grep '^tiering:' || true
stop_server

python3 - "$W/res" <<'PY' | tee "$DIR/last-bench-tiering.txt"
import os, sys

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, "scripts")
from bench_fio import first_job, direction  # noqa: E402

res = sys.argv[1]
iops = {}
for tag in "ABC":
    job = first_job(os.path.join(res, tag + ".json"))
    iops[tag] = job[direction(job)]["iops"] if job else None
print()
print("%-50s %10s" % ("4K random read QD32 of the hot set", "IOPS"))
for tag, label in (("A", "A: on the slow tier, tiering off"), ("B", "B: after tiering moved it up"),
                   ("C", "C: a volume on the fast tier")):
    print("%-50s %10s" % (label, "%.0f" % iops[tag] if iops[tag] else "ERR"))
for a, b in (("B", "A"), ("B", "C")):
    ratio = iops[a] / iops[b] if iops[a] and iops[b] else None
    print("%-50s %10s" % (a + "/" + b, "%.2fx" % ratio if ratio else "-"))
PY
