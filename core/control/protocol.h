// The control-socket protocol: the JSON forms of responses and of the
// Storage types they carry (requests: op_table.h). The plugin's server and the `tessera` CLI share it.
//
// Wire format: one JSON object per line, UTF-8, '\n'-terminated, both ways.
//
//   request   {"op": OP, ...arguments}
//   response  {"ok": true, "result": RESULT}
//             {"ok": false, "code": "NotFound", "error": "no volume 'x'"}
//
// The ops, their arguments and results: core/control/ops.h, one struct
// each; docs/control-protocol.md lists them (generated from that table).
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
//  2. ToJson followed by the matching FromJson gives back an equal value
//     (CheckReport: every field; its "clean" and "summary" are derived).
//  3. EncodeLine never throws: invalid UTF-8 in names or messages is replaced
//     (U+FFFD) rather than failing the response.
//  4. Pure functions; callable from any thread.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/db/database.h"
#include "core/util/status.h"
#include "core/volume/storage.h"

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

// Value types.
Json ToJson(const VolumeInfo& info);
Json ToJson(const std::vector<VolumeInfo>& infos);
Json ToJson(const VdevStatus& vdev);
Json ToJson(const PoolStatus& status);
Json ToJson(const CheckReport& report);
Json ToJson(const std::vector<SnapshotInfo>& snapshots);
Result<VolumeInfo> VolumeInfoFromJson(const Json& json);
Result<std::vector<VolumeInfo>> VolumeInfosFromJson(const Json& json);
Result<VdevStatus> VdevStatusFromJson(const Json& json);
Result<PoolStatus> PoolStatusFromJson(const Json& json);
Result<CheckReport> CheckReportFromJson(const Json& json);
Result<std::vector<SnapshotInfo>> SnapshotInfosFromJson(const Json& json);
Result<std::string> StringFromJson(const Json& json);
Json ToJson(const VolumeDiff& diff);
Json ToJson(const DiffStreamInfo& info);
Result<VolumeDiff> VolumeDiffFromJson(const Json& json);
Result<DiffStreamInfo> DiffStreamInfoFromJson(const Json& json);

// One line of the wire format, without the '\n'.
std::string EncodeLine(const Json& json);
// InvalidArgument when `line` is not one JSON object.
Result<Json> ParseLine(std::string_view line);

}  // namespace tessera
