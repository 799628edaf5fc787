// How an error Code crosses the edges of the core: as an errno at the nbdkit
// plugin, and as its name ("NotFound") in control-socket responses.
//
// Contract
//  1. Every Code maps to exactly one errno; the mapping is total and stable
//     (NBD clients see it: EINVAL, ENOSPC, EROFS, ENOENT, EBUSY, EIO).
//  2. CodeFromName inverts CodeName (core/util/status.h) exactly; any other
//     text gives nullopt. Pure functions, callable from any thread.
#pragma once

#include <optional>
#include <string_view>

#include "core/util/status.h"

namespace tessera {

// InvalidArgument -> EINVAL, NoSpace -> ENOSPC, ReadOnly -> EROFS,
// NotFound -> ENOENT, Busy -> EBUSY, Corruption and IOError -> EIO.
int ErrnoFromCode(Code code);

std::optional<Code> CodeFromName(std::string_view name);

}  // namespace tessera
