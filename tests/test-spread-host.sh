#!/usr/bin/env bash
# volume create --spread host: an rs:2+1 volume over six vdevs on three
# hosts (two each) puts each row's devices on distinct hosts, so when both
# vdevs of one host go offline while it is served, fio verifies every
# block. A spread the pool cannot give (rs:3+1 over three hosts, a key no
# vdev has, a simple layout) is refused, naming why, and creates nothing;
# volume info shows the spread.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd fio
make_tmpdir

POOL=$T/pool
vdevs=()
for i in 0 1 2; do vdevs+=(--vdev "tier=fastest,path=m$i.img,size=64M,name=m$i"); done
for i in 0 1 2 3 4 5; do vdevs+=(--vdev "tier=slow,path=d$i.img,size=128M,name=d$i,host=h$((i / 2))"); done
tessera pool create --pool "$POOL" "${vdevs[@]}" >"$T/pool-create.out" 2>&1 ||
  fail "pool create failed: $(cat "$T/pool-create.out")"

log "refusals create nothing"
expect_fail "rs:3+1 spread over 3 hosts" \
  tessera volume create bad --pool "$POOL" --size 64M --layout rs:3+1 --spread host
expect_match "too few hosts" "layout rs:3\\+1 spread over host needs 4 distinct values of 'host' among the vdevs of tier slow, which have 3" "$EXPECT_OUT"
expect_fail "a key no vdev has" tessera volume create bad --pool "$POOL" --size 64M --layout rs:2+1 --spread rack
expect_match "no rack" "which have 0" "$EXPECT_OUT"
expect_fail "a simple layout" tessera volume create bad --pool "$POOL" --size 64M --spread host
expect_match "simple" "nothing to spread" "$EXPECT_OUT"
expect_fail "the name key" tessera volume create bad --pool "$POOL" --size 64M --layout rs:2+1 --spread name
expect_match "name" "cannot spread rows" "$EXPECT_OUT"
[ "$(tessera volume list --pool "$POOL" --json)" = "[]" ] || fail "a refused create made a volume"

out=$(tessera volume create vol0 --pool "$POOL" --size 64M --layout rs:2+1 --spread host 2>&1) ||
  fail "volume create --spread host failed: $out"
expect_match "create" "created volume vol0: 64M, layout rs:2\\+1, tier slow, spread over host" "$out"
expect_match "volume info" "^spread: +host$" "$(tessera volume info vol0 --pool "$POOL")"
"$PYTHON" -c 'import json, sys; assert json.load(sys.stdin)["spread"] == "host"' \
  < <(tessera volume info vol0 --pool "$POOL" --json) || fail "volume info --json has no spread host"

start_server "$POOL"
log "write and verify vol0, then lose host h0 (d0 and d1) while served"
fio_verify_served vol0 || fail "the first fio pass failed"
tessera vdev offline d0 --pool "$POOL" >/dev/null || fail "vdev offline d0 failed"
tessera vdev offline d1 --pool "$POOL" >/dev/null || fail "vdev offline d1 failed"
fio_verify_served vol0 --verify_only=1 || fail "fio verify-only with host h0 gone failed: a row had two devices there"
log "every block verifies with host h0 gone"
tessera vdev online d0 --pool "$POOL" >/dev/null || fail "vdev online d0 failed"
tessera vdev online d1 --pool "$POOL" >/dev/null || fail "vdev online d1 failed"
stop_server
pool_check
