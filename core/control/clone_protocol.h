// The step volume.flatten takes by default (the ops themselves are in ops.h;
// FlattenProgress's JSON form in protocol.h).
//
// volume.flatten is one step (Storage::FlattenVolume): the client repeats it
// with the returned offset until "done" is true, showing progress.
//
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/control/protocol.h"

namespace tessera {

inline constexpr uint64_t kFlattenStepBytes = 64ull << 20;

}  // namespace tessera
