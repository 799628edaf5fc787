// Volume layouts: how a volume's rows spread over devices. The one parser of
// layout names, used by Storage and by the CLI's argument checks.
//
//   simple      one device per row
//   stripe:N    N devices per row (1..64), striped in 64 KiB chunks
//   rs:K+M      K data + M parity devices per row (K 1..32, M 1..8), through
//               a jerasure segment; chunks of 64 KiB data + a 4 KiB header
//   mirror:N    N copies of each row on N devices (2..9): rs:1+(N-1), whose
//               parity chunks equal its one data chunk, so a mirror has the
//               self-healing, scrub and replace of rs:K+M. rs:1+M is the
//               same layout and is shown as mirror:M+1.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/util/status.h"

namespace tessera {

inline constexpr uint64_t kStripeChunkBytes = 64 * 1024;
inline constexpr uint64_t kErasureChunkBytes = kStripeChunkBytes + 4096;

struct VolumeLayout {
  uint32_t devices = 1;  // per row
  uint32_t data = 1;     // devices holding data (rs: K)
  uint32_t parity = 0;   // rs: M; 0 without erasure coding
  uint64_t chunk = kStripeChunkBytes;
};

// InvalidArgument naming the accepted forms.
Result<VolumeLayout> ParseVolumeLayout(std::string_view text);

}  // namespace tessera
