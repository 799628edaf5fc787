// The control-socket protocol: the JSON forms of responses and of the
// Storage types they carry (requests: op_table.h). The plugin's server and
// the `tessera` CLI share it.
//
// Wire format: one JSON object per line, UTF-8, '\n'-terminated, both ways.
//
//   request   {"op": OP, ...arguments}
//   response  {"ok": true, "result": RESULT}
//             {"ok": false, "code": "NotFound", "error": "no volume 'x'"}
//
// The ops, their arguments and results: core/control/ops.h, one struct each
// (what an op is: op_table.h), all listed in ControlOps at its end;
// docs/control-protocol.md's table of them is generated from ControlOps.
// Some requests carry the stream file's descriptor (SCM_RIGHTS, with the
// request's first byte; dispatch.h contract 4). No request names a path the
// server would open.
//
// Sizes and counters are unsigned JSON integers (bytes). The object forms
// (field names equal the C++ member names) are the `--json` output of the CLI
// too, so users' scripts see one schema.
//
// Contract
//  1. Every decoder validates: a missing or mistyped field, or an unknown
//     field in a request, is InvalidArgument naming the field. Decoders never
//     throw.
//  2. ToJson followed by FromJson gives back an equal value (CheckReport:
//     every field; its "clean" and "summary" are derived).
//  3. EncodeLine never throws: invalid UTF-8 in names or messages is replaced
//     (U+FFFD) rather than failing the response.
//  4. Pure functions; callable from any thread.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/control/json_visit.h"
#include "core/util/status.h"
#include "core/volume/storage_types.h"

namespace tessera {

using Json = nlohmann::json;

// The longest request line a server accepts, and response line a client does.
inline constexpr size_t kMaxRequestLine = 1u << 20;
inline constexpr size_t kMaxResponseLine = 64u << 20;

// Responses.
Json OkResponse(Json result);
Json ErrorResponse(const Error& error);
// The result of an ok response, or the Error it carries (an unknown code name
// becomes IOError). A malformed response is IOError.
Result<Json> ResultFromResponse(const Json& response);

// The JSON forms of the value types: each lists its fields once
// (json_visit.h), which ToJson, FromJson<T> and ListFromJson<T> read.
// Optional fields are ones an older server may not send.
template <> inline constexpr std::string_view kJsonName<VolumeInfo> = "volume";
template <typename V>
void Fields(V& v, VolumeInfo& i) {
  v.Required("name", i.name);
  v.Required("id", i.id);
  v.Required("size", i.size);
  v.Required("layout", i.layout);
  v.Required("tier", i.tier);
  v.Optional("spread", i.spread);
  v.Required("mapped_bytes", i.mapped_bytes);
  v.Required("allocated_bytes", i.allocated_bytes);
  v.Required("open", i.open);
  v.Optional("origin", i.origin);
  v.Optional("tier_bytes", i.tier_bytes);
}

template <> inline constexpr std::string_view kJsonName<VdevStatus> = "vdev";
template <typename V>
void Fields(V& v, VdevStatus& s) {
  v.Required("name", s.name);
  v.Required("path", s.path);
  v.Required("tier", s.tier);
  v.Required("index", s.index);
  v.Required("size_bytes", s.size_bytes);
  v.Required("used_bytes", s.used_bytes);
  v.Required("state", s.state);
  v.Required("attrs", s.attrs);
  v.Optional("read_errors", s.read_errors);
  v.Optional("write_errors", s.write_errors);
  v.Optional("flush_errors", s.flush_errors);
  v.Optional("checksum_errors", s.checksum_errors);
}

template <> inline constexpr std::string_view kJsonName<VolumeHealth> = "volume health";
template <typename V>
void Fields(V& v, VolumeHealth& h) {
  v.Required("name", h.name);
  v.Required("state", h.state);
  v.Required("rows", h.rows);
  v.Required("vdevs", h.vdevs);
}

template <> inline constexpr std::string_view kJsonName<VolumePlacement> = "volume placement";
template <typename V>
void Fields(V& v, VolumePlacement& p) {
  v.Required("name", p.name);
  v.Required("tier", p.tier);
  v.Required("tier_bytes", p.tier_bytes);
}

template <> inline constexpr std::string_view kJsonName<MemoryUse> = "memory use";
template <typename V>
void Fields(V& v, MemoryUse& m) {
  v.Required("limit_bytes", m.limit_bytes);
  v.Required("data_bytes", m.data_bytes);
  v.Required("dirty_bytes", m.dirty_bytes);
  v.Required("metadata_bytes", m.metadata_bytes);
}

template <> inline constexpr std::string_view kJsonName<LatencyCount> = "latency bucket";
template <typename V>
void Fields(V& v, LatencyCount& c) {
  v.Required("bucket", c.bucket);
  v.Required("count", c.count);
}

template <> inline constexpr std::string_view kJsonName<IoTotals> = "io totals";
template <typename V>
void Fields(V& v, IoTotals& t) {
  v.Required("ops", t.ops);
  v.Required("bytes", t.bytes);
  v.Required("total_ns", t.total_ns);
  v.Required("latency", t.latency);
}

template <> inline constexpr std::string_view kJsonName<VdevIoReport> = "vdev io";
template <typename V>
void Fields(V& v, VdevIoReport& r) {
  v.Required("name", r.name);
  v.Required("tier", r.tier);
  v.Required("reads", r.reads);
  v.Required("writes", r.writes);
  v.Required("flushes", r.flushes);
}

template <> inline constexpr std::string_view kJsonName<VolumeIoReport> = "volume io";
template <typename V>
void Fields(V& v, VolumeIoReport& r) {
  v.Required("name", r.name);
  v.Required("reads", r.reads);
  v.Required("writes", r.writes);
  v.Required("flushes", r.flushes);
  v.Required("discards", r.discards);
  v.Required("cache_hit_pages", r.cache_hit_pages);
  v.Required("cache_miss_pages", r.cache_miss_pages);
  v.Required("cleaner_moved", r.cleaner_moved);
  v.Required("cleaner_freed", r.cleaner_freed);
}

template <> inline constexpr std::string_view kJsonName<PoolIoReport> = "pool io";
template <typename V>
void Fields(V& v, PoolIoReport& r) {
  v.Required("pool", r.pool);
  v.Required("opened_ns", r.opened_ns);
  v.Required("sampled_ns", r.sampled_ns);
  v.Required("vdevs", r.vdevs);
  v.Required("volumes", r.volumes);
}

template <> inline constexpr std::string_view kJsonName<TieringStatus> = "tiering";
template <typename V>
void Fields(V& v, TieringStatus& t) {
  v.Required("enabled", t.enabled);
  v.Required("limit_percent", t.limit_percent);
  v.Required("half_life_s", t.half_life_s);
  v.Required("promoted_rows", t.promoted_rows);
  v.Required("promoted_bytes", t.promoted_bytes);
  v.Required("demoted_rows", t.demoted_rows);
  v.Required("demoted_bytes", t.demoted_bytes);
}

template <> inline constexpr std::string_view kJsonName<PoolStatus> = "pool status";
template <typename V>
void Fields(V& v, PoolStatus& s) {
  v.Required("name", s.name);
  v.Required("uuid", s.uuid);
  v.Required("txg", s.txg);
  v.Required("size_bytes", s.size_bytes);
  v.Required("used_bytes", s.used_bytes);
  v.Required("free_bytes", s.free_bytes);
  v.Optional("dead_pinned_bytes", s.dead_pinned_bytes);
  v.Required("volumes", s.volumes);
  v.Required("vdevs", s.vdevs);
  v.Optional("health", s.health);
  v.Optional("metadata_copies", s.metadata_copies);
  v.Optional("metadata_copies_written", s.metadata_copies_written);
  v.Optional("degraded_volumes", s.degraded_volumes);
  v.Optional("placement", s.placement);
  v.Optional("memory", s.memory);
  v.Optional("tiering", s.tiering);
}

// "clean" and "summary" are derived from the other fields.
template <> inline constexpr std::string_view kJsonName<CheckReport> = "check report";
template <typename V>
void Fields(V& v, CheckReport& r) {
  v.Derived("clean", r.clean());
  v.Derived("summary", r.Summary());
  v.Required("nodes", r.nodes);
  v.Required("referenced_blocks", r.referenced_blocks);
  v.Required("allocated_blocks", r.allocated_blocks);
  v.Required("leaks", r.leaks);
  v.Required("double_references", r.double_references);
  v.Required("unallocated_references", r.unallocated_references);
  v.Required("checksum_failures", r.checksum_failures);
}

template <> inline constexpr std::string_view kJsonName<SnapshotInfo> = "snapshot";
template <typename V>
void Fields(V& v, SnapshotInfo& s) {
  v.Required("name", s.name);
  v.Required("txg", s.txg);
  v.Required("created_unix", s.created_unix);
  v.Optional("guid", s.guid);
  v.Optional("referenced_bytes", s.referenced_bytes);
  v.Optional("unique_bytes", s.unique_bytes);
  v.Optional("unique_data_bytes", s.unique_data_bytes);
  v.Optional("unique_metadata_bytes", s.unique_metadata_bytes);
}

template <> inline constexpr std::string_view kJsonName<DiffRange> = "diff range";
template <typename V>
void Fields(V& v, DiffRange& r) {
  v.Required("offset", r.offset);
  v.Required("length", r.length);
  v.Required("zero", r.zero);
}

template <> inline constexpr std::string_view kJsonName<VolumeDiff> = "volume diff";
template <typename V>
void Fields(V& v, VolumeDiff& d) {
  v.Required("volume", d.volume);
  v.Required("from", d.from);
  v.Required("to", d.to);
  v.Required("size", d.size);
  v.Required("changed_bytes", d.changed_bytes);
  v.Optional("nodes_visited", d.nodes_visited);
  v.Required("ranges", d.ranges);
}

template <> inline constexpr std::string_view kJsonName<DiffStreamInfo> = "diff stream";
template <typename V>
void Fields(V& v, DiffStreamInfo& i) {
  v.Required("volume", i.volume);
  v.Required("base", i.base);
  v.Required("target", i.target);
  v.Required("records", i.records);
  v.Required("data_bytes", i.data_bytes);
  v.Required("zero_bytes", i.zero_bytes);
  v.Required("stream_bytes", i.stream_bytes);
}

template <> inline constexpr std::string_view kJsonName<FlattenProgress> = "flatten progress";
template <typename V>
void Fields(V& v, FlattenProgress& p) {
  v.Required("offset", p.offset);
  v.Required("size", p.size);
  v.Required("copied_bytes", p.copied_bytes);
  v.Required("done", p.done);
}

template <> inline constexpr std::string_view kJsonName<MoveProgress> = "move progress";
template <typename V>
void Fields(V& v, MoveProgress& p) {
  v.Required("tier", p.tier);
  v.Required("moved_bytes", p.moved_bytes);
  v.Required("rows_left", p.rows_left);
  v.Required("bytes_left", p.bytes_left);
  v.Required("held_bytes", p.held_bytes);
  v.Required("done", p.done);
}

template <> inline constexpr std::string_view kJsonName<VdevRemoveProgress> = "vdev remove progress";
template <typename V>
void Fields(V& v, VdevRemoveProgress& p) {
  v.Required("name", p.name);
  v.Required("phase", p.phase);
  v.Optional("volume", p.volume);
  v.Required("moved_bytes", p.moved_bytes);
  v.Required("nodes_moved", p.nodes_moved);
  v.Required("rows_left", p.rows_left);
  v.Required("used_bytes", p.used_bytes);
  v.Required("done", p.done);
}

template <> inline constexpr std::string_view kJsonName<RebalanceProgress> = "rebalance progress";
template <typename V>
void Fields(V& v, RebalanceProgress& p) {
  v.Optional("tier", p.tier);
  v.Optional("vdev", p.vdev);
  v.Optional("volume", p.volume);
  v.Required("moved_bytes", p.moved_bytes);
  v.Required("spread_bytes", p.spread_bytes);
  v.Required("slack_bytes", p.slack_bytes);
  v.Required("done", p.done);
  v.Required("blocked", p.blocked);
}

template <> inline constexpr std::string_view kJsonName<VolumeInspectReport> = "inspect report";
template <typename V>
void Fields(V& v, VolumeInspectReport& r) {
  v.Required("volume", r.volume);
  v.Required("depth", r.depth);
  v.Required("repair", r.repair);
  v.Derived("clean", r.clean());
  v.Required("checked", r.checked);
  v.Required("bad", r.bad);
  v.Required("repaired", r.repaired);
  v.Required("replaced_blocks", r.replaced_blocks);
  v.Required("unrecoverable", r.unrecoverable);
  v.Required("problems", r.problems);
}

// "metadata" is the pool.check CheckReport, nested.
template <> inline constexpr std::string_view kJsonName<ScrubReport> = "scrub report";
template <typename V>
void Fields(V& v, ScrubReport& r) {
  v.Derived("clean", r.clean());
  v.Required("volumes", r.volumes);
  v.Required("checked", r.checked);
  v.Required("repaired", r.repaired);
  v.Required("unrecoverable", r.unrecoverable);
  v.Required("degraded", r.degraded);
  v.Required("metadata", r.metadata);
  v.Required("problems", r.problems);
}

template <> inline constexpr std::string_view kJsonName<VdevOnlineReport> = "online report";
template <typename V>
void Fields(V& v, VdevOnlineReport& r) {
  v.Required("vdev", r.vdev);
  v.Required("was_online", r.was_online);
  v.Required("rows", r.rows);
  v.Required("rebuilt_chunks", r.rebuilt_chunks);
  v.Required("unrecoverable_chunks", r.unrecoverable_chunks);
  v.Required("rows_left", r.rows_left);
  v.Required("volumes", r.volumes);
  v.Required("problems", r.problems);
}

template <> inline constexpr std::string_view kJsonName<VdevReplaceReport> = "replace report";
template <typename V>
void Fields(V& v, VdevReplaceReport& r) {
  v.Required("vdev", r.vdev);
  v.Required("old_path", r.old_path);
  v.Required("new_path", r.new_path);
  v.Required("copied_blocks", r.copied_blocks);
  v.Required("rebuilt_chunks", r.rebuilt_chunks);
  v.Required("unrecoverable_blocks", r.unrecoverable_blocks);
  v.Optional("metadata_copies_rebuilt", r.metadata_copies_rebuilt);
  v.Required("volumes", r.volumes);
  v.Required("problems", r.problems);
}

// The result of exnode.show.
Result<std::string> StringFromJson(const Json& json);

// One line of the wire format, without the '\n'.
std::string EncodeLine(const Json& json);
// InvalidArgument when `line` is not one JSON object.
Result<Json> ParseLine(std::string_view line);

}  // namespace tessera
