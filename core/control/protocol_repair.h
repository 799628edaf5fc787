// The control protocol's self-healing ops: volume inspect, pool scrub and
// vdev management: inspect depths and progress lines (their reports' JSON
// forms are in protocol.h)
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

}  // namespace tessera
