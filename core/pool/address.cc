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

std::optional<DiskAddress> ParseDiskAddress(std::string_view text) {
  size_t a = text.find(':');
  size_t b = a == std::string_view::npos ? a : text.find(':', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  auto tier = ParseTier(text.substr(0, a));
  auto number = [](std::string_view digits, uint64_t max) -> std::optional<uint64_t> {
    if (digits.empty() || digits.size() > 19) return std::nullopt;
    uint64_t v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (v > max) return std::nullopt;
    return v;
  };
  auto vdev = number(text.substr(a + 1, b - a - 1), kMaxVdevsPerTier - 1);
  auto block = number(text.substr(b + 1), kMaxBlock);
  if (!tier || !vdev || !block) return std::nullopt;
  return DiskAddress::Make(*tier, static_cast<uint32_t>(*vdev), *block);
}

std::string DiskAddress::ToString() const {
  return fmt::format("{}:{}:{}", TierName(tier()), vdev(), block());
}

std::string BlockCapability(std::string_view vdev_uri, DiskAddress address) {
  if (vdev_uri.empty()) return address.ToString();
  return std::string(vdev_uri) + "#" + address.ToString();
}

std::optional<DiskAddress> ParseBlockCapability(std::string_view cap) {
  const size_t hash = cap.rfind('#');
  return ParseDiskAddress(hash == std::string_view::npos ? cap : cap.substr(hash + 1));
}

}  // namespace tessera
