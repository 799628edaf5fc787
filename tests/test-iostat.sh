#!/usr/bin/env bash
# pool iostat and metrics against a running server (`tessera serve --daemon
# --metrics-file`), while fio writes and verifies a volume through NBD:
# iostat -v reports the volume's writes as rates, with latencies, and each
# tier and vdev, as JSON lines; after a flush the vdevs' write counters hold
# at least the volume's data; `tessera metrics` and the metrics
# file hold the same counters in the Prometheus text format, the file
# rewritten while the server runs; the data verifies.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd fio nbdinfo
make_tmpdir

new_pool 2 512M
new_volume vol0 128M
SOCK=$POOL/nbd.sock
METRICS=$T/tessera.prom

log "tessera serve --daemon --metrics-file"
tessera serve --daemon --pool "$POOL" --metrics-file "$METRICS" --json >"$T/serve.json" 2>"$T/serve.err" ||
  fail "serve --daemon failed: $(cat "$T/serve.err")"
SERVER_PID=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["pid"])' "$T/serve.json")
on_exit "kill $SERVER_PID 2>/dev/null || true"
[ -s "$METRICS" ] || fail "the metrics file was not written at start"
grep -q '^tessera_vdev_write_ops_total{pool="default",vdev="vdev0",tier="fastest"} ' "$METRICS" ||
  fail "the metrics file lacks the vdev counters: $(head -n 20 "$METRICS")"

log "fio writes and verifies while iostat samples"
fio --name=w --ioengine=nbd --uri="$(nbd_uri vol0)" --rw=randwrite --bs=4k --iodepth=8 --size=32M \
  --time_based --runtime=6 --verify=crc32c --verify_fatal=1 --do_verify=1 >"$T/fio.out" 2>&1 &
FIO=$!
on_exit "kill_started $FIO"
sleep 1
timeout 60 "$TESSERA_BIN" pool iostat -v 1 3 --json --pool "$POOL" >"$T/iostat.jsonl" 2>"$T/iostat.err" ||
  fail "pool iostat failed: $(cat "$T/iostat.err")"
timeout 60 "$TESSERA_BIN" pool iostat -v --pool "$POOL" >"$T/iostat.txt" 2>&1 || fail "pool iostat (text) failed"
wait $FIO || fail "fio failed: $(tail -n 20 "$T/fio.out")"

"$PYTHON" - "$T/iostat.jsonl" <<'PY' || fail "iostat reports are wrong: $(cat "$T/iostat.jsonl")"
import json, sys
reports = [json.loads(line) for line in open(sys.argv[1])]
assert len(reports) == 3, len(reports)
for r in reports[1:]:
    assert 0.5 < r["seconds"] < 5, r["seconds"]
rows = {(row["kind"], row["name"]): row for row in reports[-1]["rows"]}
pool = rows[("pool", "default")]
volume = rows[("volume", "vol0")]
assert volume["write_ops_per_s"] > 0 and volume["write_bytes_per_s"] > 0, volume
# The mean and the p99 are not compared: the cache takes most writes in
# a microsecond or two, and one that waits on a write-back or a flush for
# milliseconds can lift the mean of a second's writes far above their p99.
assert volume["write_avg_us"] > 0 and volume["write_p99_us"] > 0, volume
# The cache absorbs the writes: device writes show up as it writes back
# (checked below, after a flush).
for v in ("vdev0", "vdev1"):
    assert ("vdev", v) in rows, rows.keys()
assert ("tier", "fastest") in rows
PY
grep -q '^  volume vol0 ' "$T/iostat.txt" || fail "iostat -v does not list vol0: $(cat "$T/iostat.txt")"

log "tessera metrics, after a flush"
"$PYTHON" -c '
import sys
from nbd_helpers import connect
connect(sys.argv[1], "vol0").flush()' "$SOCK" || fail "flushing vol0 failed"
tessera metrics --pool "$POOL" >"$T/metrics.txt" || fail "tessera metrics failed"
device=$(sed -n 's/^tessera_vdev_write_bytes_total{pool="default",vdev="vdev[01]",tier="fastest"} \([0-9]*\)$/\1/p' "$T/metrics.txt" |
  awk '{s += $1} END {print s + 0}')
[ "$device" -ge $((16 << 20)) ] || fail "the vdevs wrote $device bytes; the flushed volume holds more"
writes=$(sed -n 's/^tessera_volume_write_ops_total{pool="default",volume="vol0"} \([0-9]*\)$/\1/p' "$T/metrics.txt")
[ -n "$writes" ] && [ "$writes" -gt 0 ] || fail "tessera metrics has no writes of vol0: $(grep vol0 "$T/metrics.txt" | head)"
count=$(sed -n 's/^tessera_volume_write_latency_seconds_count{pool="default",volume="vol0"} \([0-9]*\)$/\1/p' "$T/metrics.txt")
[ "$count" = "$writes" ] || fail "the latency histogram counts $count writes, the counter $writes"

log "the metrics file is rewritten while serving"
for ((i = 0; i < 100; i++)); do
  grep -q '^tessera_volume_write_ops_total{pool="default",volume="vol0"} [1-9]' "$METRICS" && break
  sleep 0.1
done
grep -q '^tessera_volume_write_ops_total{pool="default",volume="vol0"} [1-9]' "$METRICS" ||
  fail "the metrics file was not rewritten with vol0's writes within 10 s"

kill -TERM "$SERVER_PID"
for ((i = 0; i < 600; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVER_PID" 2>/dev/null && fail "the server did not stop within 60 s of SIGTERM"
pool_check
