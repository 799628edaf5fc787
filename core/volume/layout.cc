#include "core/volume/layout.h"

#include <algorithm>
#include <optional>
#include <string>

namespace tessera {
namespace {

std::optional<uint32_t> SmallNumber(std::string_view text, uint32_t min, uint32_t max) {
  if (text.empty() || text.size() > 3 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  uint32_t v = static_cast<uint32_t>(std::stoul(std::string(text)));
  if (v < min || v > max) return std::nullopt;
  return v;
}

}  // namespace

Result<VolumeLayout> ParseVolumeLayout(std::string_view layout) {
  if (layout == "simple") return VolumeLayout{};
  if (layout.starts_with("stripe:")) {
    if (auto n = SmallNumber(layout.substr(7), 1, 64)) return VolumeLayout{.devices = *n, .data = *n};
  }
  if (layout.starts_with("mirror:")) {
    // The Reed-Solomon code with one data chunk: its parity chunks are
    // copies of the data chunk (layout.h).
    if (auto n = SmallNumber(layout.substr(7), 2, 9)) {
      return VolumeLayout{.devices = *n, .data = 1, .parity = *n - 1, .chunk = kErasureChunkBytes};
    }
  }
  if (layout.starts_with("rs:")) {
    std::string_view spec = layout.substr(3);
    size_t plus = spec.find('+');
    auto k = plus == std::string_view::npos ? std::nullopt : SmallNumber(spec.substr(0, plus), 1, 32);
    auto m = plus == std::string_view::npos ? std::nullopt : SmallNumber(spec.substr(plus + 1), 1, 8);
    if (k && m) {
      return VolumeLayout{.devices = *k + *m, .data = *k, .parity = *m, .chunk = kErasureChunkBytes};
    }
  }
  return Err(Code::kInvalidArgument,
             "unknown layout '{}' (expected simple, stripe:N with N in 1..64, mirror:N with N in 2..9, "
             "or rs:K+M with K in 1..32 and M in 1..8)",
             layout);
}

}  // namespace tessera
