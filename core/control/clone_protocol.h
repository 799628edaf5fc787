// The FlattenProgress JSON form, and the step volume.flatten takes by
// default (the ops themselves are in ops.h). Part of the control protocol
// (protocol.h; docs/control-protocol.md).
//
// volume.flatten is one step (Storage::FlattenVolume): the client repeats it
// with the returned offset until "done" is true, showing progress.
//
// Contract: as protocol.h (decoders validate, nothing throws).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/control/protocol.h"

namespace tessera {

inline constexpr uint64_t kFlattenStepBytes = 64ull << 20;

Json ToJson(const FlattenProgress& progress);
Result<FlattenProgress> FlattenProgressFromJson(const Json& json);

}  // namespace tessera
