#!/usr/bin/env bash
# nbdinfo: export size, the export list and the default export.
#  - one volume: it is the default export ("" names it), sizes match, the
#    advertised capabilities are the ones the plugin promises (multi-conn,
#    FUA, trim, zero, fast zero, extents, cache; block sizes 512/4096);
#  - two volumes: both are listed with their sizes, and "" names none.
source "$(dirname "$0")/functions.sh"
require_build
require_cmd nbdinfo
make_tmpdir

new_pool 2 256M
new_volume vol0 64M

# json_field JSON EXPORT FIELD: a field of one export in nbdinfo --json output.
json_field() {
  "$PYTHON" -c '
import json, sys
doc = json.loads(sys.argv[1])
ex = [e for e in doc["exports"] if e["export-name"] == sys.argv[2]]
if len(ex) != 1:
    sys.exit("export %r listed %d times in %s" % (sys.argv[2], len(ex), [e["export-name"] for e in doc["exports"]]))
v = ex[0].get(sys.argv[3])
print(json.dumps(v) if isinstance(v, bool) else v)
' "$@"
}

log "one volume: size, default export, capabilities"
captive "$POOL" bash -c 'nbdinfo --size "nbd+unix:///vol0?socket=$SOCK" &&
  nbdinfo --size "nbd+unix:///?socket=$SOCK" &&
  nbdinfo --json "nbd+unix:///vol0?socket=$SOCK" >"'"$T"'/info.json" &&
  nbdinfo --list --json "nbd+unix:///?socket=$SOCK" >"'"$T"'/list1.json"' >"$T/sizes" ||
  fail "nbdinfo failed on a one-volume pool"
mapfile -t sizes <"$T/sizes"
[ "${sizes[0]}" = $((64 << 20)) ] || fail "vol0 size is ${sizes[0]}, expected $((64 << 20))"
[ "${sizes[1]}" = $((64 << 20)) ] || fail "default export size is ${sizes[1]}, expected vol0's $((64 << 20))"

info=$(cat "$T/info.json")
for cap in can_flush can_fua can_multi_conn can_trim can_zero can_fast_zero can_cache; do
  [ "$(json_field "$info" vol0 "$cap")" = true ] || fail "vol0: $cap is not true: $info"
done
[ "$(json_field "$info" vol0 is_read_only)" = false ] || fail "vol0 is read-only: $info"
[ "$(json_field "$info" vol0 block_size_minimum)" = 512 ] || fail "minimum block size is not 512: $info"
[ "$(json_field "$info" vol0 block_size_preferred)" = 4096 ] || fail "preferred block size is not 4096: $info"
grep -q '"base:allocation"' "$T/info.json" || fail "base:allocation is not offered: $info"

list1=$(cat "$T/list1.json")
[ "$(json_field "$list1" vol0 export-size)" = $((64 << 20)) ] || fail "export list: vol0 size wrong: $list1"
n=$("$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)["exports"]))' <"$T/list1.json")
[ "$n" = 1 ] || fail "one volume, but $n exports listed: $list1"

log "two volumes: both listed, no default export"
new_volume vol1 128M stripe:2
captive "$POOL" bash -c 'nbdinfo --list --json "nbd+unix:///?socket=$SOCK" >"'"$T"'/list2.json" &&
  nbdinfo --size "nbd+unix:///vol1?socket=$SOCK" >"'"$T"'/vol1.size" &&
  if nbdinfo --size "nbd+unix:///?socket=$SOCK" >"'"$T"'/default.out" 2>&1; then exit 10; fi' ||
  fail "nbdinfo on a two-volume pool (status $?; 10 = the default export was served): $(cat "$T/default.out" 2>/dev/null)"
list2=$(cat "$T/list2.json")
[ "$(json_field "$list2" vol0 export-size)" = $((64 << 20)) ] || fail "export list: vol0 size wrong: $list2"
[ "$(json_field "$list2" vol1 export-size)" = $((128 << 20)) ] || fail "export list: vol1 size wrong: $list2"
[ "$(cat "$T/vol1.size")" = $((128 << 20)) ] || fail "vol1 size is $(cat "$T/vol1.size")"
grep -Eq "no default export|default export.*not permitted" "$T/server.log" ||
  fail "the server log does not explain the refused default export"
