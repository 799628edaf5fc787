// Row queries (row_query.h).
#include "core/volume/row_query.h"

#include <fmt/format.h>

namespace tessera {
namespace {

constexpr std::string_view kTierTerm = "1:tier:1:";

// Where the tier's name ends, when `query` starts with the tier term.
std::optional<size_t> TierEnd(const std::string& query) {
  if (!query.starts_with(kTierTerm)) return std::nullopt;
  size_t end = query.find(':', kTierTerm.size());
  if (end == std::string::npos) return std::nullopt;
  return end;
}

}  // namespace

std::string RowQuery(Tier tier, uint32_t devices) {
  std::string query = fmt::format("{}{}:1", kTierTerm, TierName(tier));
  if (devices > 1) query += ".1:name:65:any:3.3:any:3:any:3";
  return query;
}

std::optional<Tier> TierOfRowQuery(const std::string& query) {
  auto end = TierEnd(query);
  if (!end) return std::nullopt;
  return ParseTier(std::string_view(query).substr(kTierTerm.size(), *end - kTierTerm.size()));
}

Result<std::string> RowQueryWithTier(const std::string& query, Tier tier) {
  auto end = TierEnd(query);
  if (!end || !TierOfRowQuery(query)) {
    return Err(Code::kInvalidArgument, "row query '{}' does not start with a tier term", query);
  }
  return fmt::format("{}{}{}", kTierTerm, TierName(tier), query.substr(*end));
}

std::vector<Tier> TiersNearest(Tier tier) {
  const int at = static_cast<int>(tier);
  std::vector<Tier> out;
  for (int distance = 1; distance <= static_cast<int>(Tier::kSlowest); distance++) {
    for (int other : {at + distance, at - distance}) {  // slower first
      if (other >= static_cast<int>(Tier::kFastest) && other <= static_cast<int>(Tier::kSlowest)) {
        out.push_back(static_cast<Tier>(other));
      }
    }
  }
  return out;
}

}  // namespace tessera
