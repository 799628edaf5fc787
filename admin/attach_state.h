// What `tessera attach` records so that `tessera detach` can undo it:
// DIR/attach/<FileSafeName(NAME)>.json.
//
// Contract
//  1. AttachStateFromJson(AttachStateToJson(s)) == s; a malformed record is
//     InvalidArgument naming the field (never throws).
//  2. FileSafeName maps every volume name to one path component that is not
//     "." or "..", contains no '/', is at most 200 bytes, and differs for
//     different names (percent-encoding; past 200 bytes a prefix plus an
//     XXH3 hash of the name).
#pragma once

#include <sys/types.h>

#include <string>

#include "core/control/protocol.h"

namespace tessera {

struct AttachState {
  std::string name;
  std::string method;      // "nbd" (nbd-client) or "nbdfuse" (nbdfuse + loop device)
  std::string device;      // /dev/nbdX or /dev/loopX
  std::string socket;      // the NBD server's Unix socket
  std::string mountpoint;  // nbdfuse only
  int64_t pid = 0;         // nbdfuse only
  bool operator==(const AttachState&) const = default;
};

Json AttachStateToJson(const AttachState& state);
Result<AttachState> AttachStateFromJson(const Json& json);

std::string FileSafeName(const std::string& name);

}  // namespace tessera
