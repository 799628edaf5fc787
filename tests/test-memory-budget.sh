#!/usr/bin/env bash
# One memory budget per server (pool.conf `memory`, the plugin's memory=):
# a server with 50 volumes, each given 16 MiB of 4K random writes (which go
# through the page cache) by its own NBD connection at once, grows its RSS
# from what it holds once started (the program and the pool's metadata:
# about 80 MiB with 50 volumes) by no more than the budget plus 64 MiB, and
# so does one volume given 256 MiB;
# every byte verifies; `pool status` shows the budget and its use, in text
# and JSON; the plugin's memory= overrides pool.conf; a bad memory value is
# refused with a clear error. Without the budget each volume's cache could
# hold 256 MiB (50 x 16 MiB = 800 MiB here).
source "$(dirname "$0")/functions.sh"
require_build
require_cmd fio nbdinfo
make_tmpdir

BUDGET_MIB=128
MARGIN_MIB=64
new_pool 3 1G
sed -i "s/^name = .*/&\nmemory = ${BUDGET_MIB}M/" "$POOL/pool.conf"
grep -q "^memory = ${BUDGET_MIB}M" "$POOL/pool.conf" || fail "could not set memory in pool.conf"

log "a bad memory value is refused and changes nothing"
cp "$POOL/pool.conf" "$T/pool.conf.good"
sed -i "s/^memory = .*/memory = 1K/" "$POOL/pool.conf"
expect_fail "memory below the minimum" tessera pool status --pool "$POOL"
expect_match "pool.conf memory = 1K" "memory = 1K is below the minimum" "$EXPECT_OUT"
cp "$T/pool.conf.good" "$POOL/pool.conf"
expect_fail "serve --memory 1K" tessera serve --pool "$POOL" --memory 1K
expect_match "serve --memory 1K" "below the minimum" "$EXPECT_OUT"

for i in $(seq 1 50); do new_volume "v$i" 32M; done

# peak_rss_mib / rss_mib: the server's peak and current resident set, in MiB.
peak_rss_mib() { awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$SERVER_PID/status"; }
rss_mib() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$SERVER_PID/status"; }

log "50 volumes written at once through 50 connections"
start_server "$POOL"
nbdinfo --list "nbd+unix:///?socket=$SOCK" >/dev/null || fail "the server does not list its exports"
idle=$(rss_mib)
JOB=$T/fifty.fio
{
  printf '[global]\nioengine=nbd\nrw=randwrite\nbs=4k\niodepth=8\nsize=16M\nverify=crc32c\n'
  printf 'verify_fatal=1\ndo_verify=1\nrandrepeat=0\n'
  for i in $(seq 1 50); do printf '\n[v%s]\nuri=%s\n' "$i" "$(nbd_uri "v$i")"; done
} >"$JOB"
timeout 600 fio "$JOB" >"$T/fifty.out" 2>&1 || fail "fio over 50 volumes failed: $(grep -i -m 5 'err\|verify' "$T/fifty.out")"
peak=$(peak_rss_mib)
log "RSS with 50 volumes: ${idle} MiB started, ${peak} MiB at the peak (budget ${BUDGET_MIB} MiB)"
[ "$peak" -le $((idle + BUDGET_MIB + MARGIN_MIB)) ] ||
  fail "RSS grew from ${idle} to ${peak} MiB with 50 volumes: more than the budget ${BUDGET_MIB} MiB + ${MARGIN_MIB} MiB"

tessera pool status --pool "$POOL" >"$T/status.txt" 2>&1 || fail "pool status failed: $(cat "$T/status.txt")"
expect_match "pool status" "memory: +[0-9.]+[KMG]? of ${BUDGET_MIB}M for caches \(volume pages" "$(cat "$T/status.txt")"
tessera pool status --pool "$POOL" --json >"$T/status.json" 2>&1 || fail "pool status --json failed"
"$PYTHON" - "$T/status.json" "$BUDGET_MIB" <<'PY' || fail "pool status --json memory is wrong: $(cat "$T/status.json")"
import json, sys
m = json.load(open(sys.argv[1]))["memory"]
limit = int(sys.argv[2]) << 20
assert m["limit_bytes"] == limit, m
assert m["data_bytes"] <= limit, m  # 0 once the volumes closed
assert m["metadata_bytes"] <= limit // 4 + (4 << 20), m
assert m["dirty_bytes"] <= m["data_bytes"], m
PY
stop_server

log "one volume given 256 MiB of 4K writes, under memory=96M on the plugin's command line"
new_volume big 512M
start_server "$POOL" memory=96M
nbdinfo --list "nbd+unix:///?socket=$SOCK" >/dev/null || fail "the server does not list its exports"
idle=$(rss_mib)
timeout 600 fio --name=big --ioengine=nbd --uri="$(nbd_uri big)" --rw=randwrite --bs=4k --iodepth=32 \
  --size=256M --verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 >"$T/big.out" 2>&1 ||
  fail "fio over one volume failed: $(grep -i -m 5 'err\|verify' "$T/big.out")"
peak=$(peak_rss_mib)
log "RSS with one volume written: ${idle} MiB started, ${peak} MiB at the peak (budget 96 MiB)"
[ "$peak" -le $((idle + 96 + MARGIN_MIB)) ] ||
  fail "RSS grew from ${idle} to ${peak} MiB with one volume: more than 96 MiB + ${MARGIN_MIB} MiB"
tessera pool status --pool "$POOL" --json >"$T/status.json" 2>&1 || fail "pool status --json failed"
"$PYTHON" -c 'import json, sys; m = json.load(open(sys.argv[1]))["memory"]; assert m["limit_bytes"] == 96 << 20, m' \
  "$T/status.json" || fail "memory=96M was not the limit: $(cat "$T/status.json")"
stop_server
pool_check
