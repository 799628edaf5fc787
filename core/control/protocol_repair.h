// The control protocol's self-healing ops: volume inspect, pool scrub and
// vdev management, their requests and the JSON forms of their reports
// (protocol.h gives the wire format; docs/control-protocol.md the table).
//
//   op              arguments                                      result
//   volume.inspect  name, [depth="scan"], [repair=false],          VolumeInspectReport
//                   [progress=false]
//   pool.scrub      [progress=false]                               ScrubReport
//   vdev.list       -                                              [VdevStatus]
//   vdev.offline    name                                           null
//   vdev.online     name                                           null
//   vdev.replace    name, path, [progress=false]                   VdevReplaceReport
//
// Progress: a request with "progress": true may get any number of lines
//   {"progress": {"what": STRING, "done": N, "total": N}}
// before its response line. Requests without it never get one, so older
// clients are unaffected.
//
// Contract: as protocol.h (strict requests, lenient results, no throwing).
#pragma once

#include "core/control/protocol.h"

namespace tessera {

inline constexpr std::string_view kOpVolumeInspect = "volume.inspect";
inline constexpr std::string_view kOpPoolScrub = "pool.scrub";
inline constexpr std::string_view kOpVdevList = "vdev.list";
inline constexpr std::string_view kOpVdevOffline = "vdev.offline";
inline constexpr std::string_view kOpVdevOnline = "vdev.online";
inline constexpr std::string_view kOpVdevReplace = "vdev.replace";

// InvalidArgument naming the accepted depths.
Result<InspectDepth> ParseInspectDepth(std::string_view text);

Json VolumeInspectRequest(const std::string& name, InspectDepth depth, bool repair, bool progress);
Json PoolScrubRequest(bool progress);
Json VdevListRequest();
Json VdevRequest(std::string_view op, const std::string& name);  // vdev.offline, vdev.online
Json VdevReplaceRequest(const std::string& name, const std::string& path, bool progress);

// A progress line's object, and the Progress in a line (nullopt when the
// line is not a progress line).
Json ProgressLine(const Progress& progress);
std::optional<Progress> ProgressFromLine(const Json& line);

Json ToJson(const std::vector<VdevStatus>& vdevs);
Json ToJson(const std::vector<VolumeHealth>& volumes);
Json ToJson(const VolumeInspectReport& report);
Json ToJson(const ScrubReport& report);
Json ToJson(const VdevReplaceReport& report);
Result<std::vector<VdevStatus>> VdevStatusesFromJson(const Json& json);
Result<std::vector<VolumeHealth>> VolumeHealthsFromJson(const Json& json);
Result<VolumeInspectReport> VolumeInspectReportFromJson(const Json& json);
Result<ScrubReport> ScrubReportFromJson(const Json& json);
Result<VdevReplaceReport> VdevReplaceReportFromJson(const Json& json);

}  // namespace tessera
