// Human sizes: "4096", "64K", "512M", "10G", "1T", with optional "iB"/"B"
// suffix (binary units throughout). Used by configs and the CLI.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/util/status.h"

namespace tessera {

// InvalidArgument on empty, unknown suffix, non-digits or overflow.
Result<uint64_t> ParseSize(std::string_view text);
// 1536 -> "1.5K", 10737418240 -> "10G".
std::string FormatSize(uint64_t bytes);

}  // namespace tessera
