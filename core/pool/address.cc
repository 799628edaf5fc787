#include "core/pool/address.h"

#include <algorithm>
#include <cctype>

#include <fmt/core.h>

namespace tessera {

std::string_view TierName(Tier tier) {
  switch (tier) {
    case Tier::kFastest: return "fastest";
    case Tier::kFast: return "fast";
    case Tier::kSlow: return "slow";
    case Tier::kSlowest: return "slowest";
  }
  return "?";
}

std::optional<Tier> ParseTier(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (uint8_t t = 0; t < kTierCount; t++) {
    Tier tier = static_cast<Tier>(t);
    if (lower == TierName(tier) || lower == std::to_string(t)) return tier;
  }
  return std::nullopt;
}

std::string DiskAddress::ToString() const {
  return fmt::format("{}:{}:{}", TierName(tier()), vdev(), block());
}

}  // namespace tessera
