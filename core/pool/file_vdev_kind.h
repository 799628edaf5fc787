// The `file` vdev kind: a regular file (created sparse or preallocated) or
// a block device, opened as a FileVdev (vdev_kinds.h contract 1).
//
// Contract
//  1. The vdev's `io` attribute picks read-cache (the default), direct or
//     buffered; `preallocate` picks sparse (the default) or full. Create
//     makes a regular file and refuses an existing one; a block device is
//     used as it is, and has nothing to undo.
//  2. A path that does not exist is NotFound ("... is missing").
#pragma once

#include "core/pool/vdev_kinds.h"

namespace tessera {

Result<OpenedVdev> OpenFileVdevKind(const VdevConfig& vdev, const VdevOpenOptions& options);

}  // namespace tessera
