#include "core/control/codes.h"

#include <cerrno>

namespace tessera {

int ErrnoFromCode(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
      return EINVAL;
    case Code::kNoSpace:
      return ENOSPC;
    case Code::kReadOnly:
      return EROFS;
    case Code::kNotFound:
      return ENOENT;
    case Code::kBusy:
      return EBUSY;
    case Code::kCorruption:
      return EIO;
    case Code::kIOError:
      return EIO;
    case Code::kPermissionDenied:
      return EACCES;
  }
  return EIO;
}

std::optional<Code> CodeFromName(std::string_view name) {
  for (Code code : {Code::kNotFound, Code::kCorruption, Code::kIOError, Code::kNoSpace,
                    Code::kInvalidArgument, Code::kBusy, Code::kReadOnly, Code::kPermissionDenied}) {
    if (CodeName(code) == name) return code;
  }
  return std::nullopt;
}

}  // namespace tessera
