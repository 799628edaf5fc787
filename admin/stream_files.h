// The CLI's side of diff streams: it opens the stream file with its own
// rights and hands the server a descriptor of a regular file (the server
// opens no path a client names; core/control/dispatch.h contract 4).
//
// Contract
//  1. OpenStreamOutput never truncates or removes a file that exists: the
//     server checks the descriptor (storage.h: a regular file, none of the
//     pool's) before it truncates. A FIFO without a reader is an error at
//     once, not a wait.
//  2. '-' (the caller's stdout stream) and a target that is not a regular
//     file (a FIFO, a device) are written through an unlinked temporary
//     file in the pool directory (private, 0700), copied out by
//     FinishStreamOutput.
//  3. OpenStreamInput gives a regular file: '-' (stdin), a FIFO or a device
//     is first copied into an unlinked temporary file in the pool
//     directory. A FIFO without a writer reads as empty.
//  4. On failure FinishStreamOutput removes the file only if
//     OpenStreamOutput created it.
#pragma once

#include <ostream>
#include <string>

#include "core/util/status.h"
#include "core/util/unique_fd.h"

namespace tessera {

struct StreamOutput {
  std::string path;  // as given ('-' for stdout)
  UniqueFd fd;       // what the server writes: the file, or the temporary one
  UniqueFd target;   // the FIFO or device to copy into (contract 2), else invalid
  bool to_stdout = false;  // '-': copied to the caller's stdout stream
  bool created = false;
};

Result<StreamOutput> OpenStreamOutput(const std::string& path, const std::string& pool_dir);
// After the server's write: copies a temporary file out (contract 2), to
// `stdout_stream` for '-'; when `written` is false, removes a file this
// process created (contract 4).
Status FinishStreamOutput(StreamOutput& out, bool written, std::ostream& stdout_stream);

Result<UniqueFd> OpenStreamInput(const std::string& path, const std::string& pool_dir);

}  // namespace tessera
