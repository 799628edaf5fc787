// Writing a small file so that a crash leaves either its old content or the
// new one: a temporary file beside it (PATH.tmp), fsync, rename over PATH,
// fsync of the directory.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "core/util/status.h"

namespace tessera {

// IOError naming the step that failed; PATH is then unchanged (a stale
// PATH.tmp may remain and is overwritten by the next call).
Status WriteFileAtomically(const std::string& path, std::string_view text, mode_t mode);

// fsync of the directory holding `path`, so that a file just created or
// renamed there is found after a crash. IOError naming the directory.
Status SyncDirectoryOf(const std::string& path);

}  // namespace tessera
