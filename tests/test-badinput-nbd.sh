#!/usr/bin/env bash
# Bad input over NBD and on the nbdkit command line (docs/architecture.md,
# Guarantees: bad input): each gets a clear error, changes nothing, and the
# server keeps serving.
#  - an unknown export, odd export names, a 4096-byte export name: the
#    handshake fails and the server log names the export (shortened);
#  - out-of-range reads, writes, zeroes, trims, cache and block status
#    (tests/bad_requests.py), and requests above the maximum block size;
#  - plugin misconfiguration: no pool=, a missing pool, an unknown key, a
#    zero commit interval; a second server on a pool that is being served.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd nbdinfo
make_tmpdir

new_pool 1 256M
new_volume vol0 64M
start_server "$POOL"

log "unknown export"
expect_fail "nbdinfo of an unknown export" nbdinfo "$(nbd_uri nope)"
grep -q "no volume 'nope'" "$T/server.log" ||
  fail "the server log does not name the unknown export: $(tail -n 3 "$T/server.log")"

log "odd export names"
for name in '../vol0' 'vol0/' 'VOL0' ' vol0' 'vol0.' 'völ0' '%00' "$(printf 'y%.0s' $(seq 300))"; do
  expect_fail "export name '$name'" "$PYTHON" -c '
import sys
from nbd_helpers import connect
connect(sys.argv[1], sys.argv[2])' "$SOCK" "$name"
done

log "a 4096-byte export name"
long=$(printf 'x%.0s' $(seq 4096))
expect_fail "a 4096-byte export name" "$PYTHON" -c '
import sys
from nbd_helpers import connect
connect(sys.argv[1], sys.argv[2])' "$SOCK" "$long"
# The message must say the volume does not exist (or that the name is too
# long), quoting the name shortened -- not an internal limit of some lower
# layer.
msg=$(grep "(4096 bytes)" "$T/server.log" | tail -n 1)
[ -n "$msg" ] || soft_fail "the server log does not quote the long name shortened: $(tail -n 1 "$T/server.log" | cut -c1-300)"
grep -Eq "no volume 'x{8}.*\(4096 bytes\)|'x{8}.*\(4096 bytes\).*(too long|at most)" <<<"$msg" ||
  soft_fail "a 4096-byte export name gets an unclear message: $msg"
if grep -q "$long" "$T/server.log"; then soft_fail "the server log quotes the whole 4096-byte name"; fi
server_alive || fail "the server died after bad export names"
[ "$(nbdinfo --size "$(nbd_uri vol0)")" = $((64 << 20)) ] || fail "vol0 is not served after bad export names"

log "out-of-range and oversized requests"
"$PYTHON" "$TESSERA_SRC/tests/bad_requests.py" "$SOCK" vol0 || fail "bad requests were not refused cleanly"
server_alive || fail "the server died after bad requests"

log "a second server on a pool that is being served"
expect_fail "a second nbdkit on the same pool" \
  nbdkit -U "$T/second.sock" "$PLUGIN" pool="$POOL" --run true
expect_match "second server" "in use|locked|lock" "$EXPECT_OUT"
server_alive || fail "the first server died when a second one tried the pool"
stop_server

log "plugin misconfiguration"
expect_fail "nbdkit without pool=" nbdkit -U "$T/x.sock" "$PLUGIN" --run true
expect_match "no pool=" "pool=DIR parameter is required|pool" "$EXPECT_OUT"
expect_fail "nbdkit with a missing pool" nbdkit -U "$T/x.sock" "$PLUGIN" pool="$T/nowhere" --run true
expect_match "missing pool" "$T/nowhere" "$EXPECT_OUT"
expect_fail "nbdkit with an unknown key" nbdkit -U "$T/x.sock" "$PLUGIN" pool="$POOL" frob=1 --run true
expect_match "unknown key" "frob" "$EXPECT_OUT"
expect_fail "nbdkit with commit-interval=0" nbdkit -U "$T/x.sock" "$PLUGIN" pool="$POOL" \
  commit-interval=0 --run true
expect_match "commit-interval=0" "commit-interval" "$EXPECT_OUT"
mkdir -p "$T/empty"
expect_fail "nbdkit on a directory that is no pool" nbdkit -U "$T/x.sock" "$PLUGIN" pool="$T/empty" --run true
expect_match "not a pool" "$T/empty" "$EXPECT_OUT"
[ -z "$(ls -A "$T/empty")" ] || fail "nbdkit created files in a directory that is no pool: $(ls -A "$T/empty")"

captive "$POOL" nbdinfo --size 'nbd+unix:///vol0?socket=@SOCK@' >/dev/null || fail "vol0 is not served afterwards"
pool_check
