// The control protocol's self-healing ops: volume inspect, pool scrub and
// vdev management: the JSON forms of their reports, and progress lines
// (protocol.h gives the wire format; docs/control-protocol.md the table).
//
// The ops themselves (volume.inspect, pool.scrub, vdev.*) are in ops.h.
//
// Progress: a request with "progress": true may get any number of lines
//   {"progress": {"what": STRING, "done": N, "total": N}}
// before its response line. Requests without it never get one, so older
// clients are unaffected.
//
// Contract: as protocol.h (lenient results, no throwing).
#pragma once

#include "core/control/protocol.h"

namespace tessera {

// InvalidArgument naming the accepted depths.
Result<InspectDepth> ParseInspectDepth(std::string_view text);

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
