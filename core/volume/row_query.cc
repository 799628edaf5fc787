// Row queries (row_query.h).
#include "core/volume/row_query.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "core/exnode/query.h"

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

std::string RowQuery(Tier tier, uint32_t devices, const std::string& spread) {
  std::string query = fmt::format("{}{}:1", kTierTerm, TierName(tier));
  if (devices > 1) query += ".1:name:65:any:3.3:any:3:any:3";
  if (devices > 1 && !spread.empty()) query += fmt::format(".1:{}:65:any:3.3:any:3:any:3", spread);
  return query;
}

Status ValidateSpreadKey(const std::string& key) {
  static const std::set<std::string, std::less<>> kEveryVdevHas = {"name", "tier", "index", "path",
                                                                  "size", "state", "kind", "uri"};
  if (key.empty() || key.size() > 64 || !std::isalpha(static_cast<unsigned char>(key[0])) ||
      !std::ranges::all_of(key, [](char c) { return c != '.' && IsConfigNameChar(c); })) {
    return Err(Code::kInvalidArgument, "spread key '{}' is not a vdev attribute name (a letter, then letters, "
               "digits, '_' or '-'; at most 64)", key);
  }
  if (kEveryVdevHas.contains(key)) {
    return Err(Code::kInvalidArgument, "spread key '{}' cannot spread rows: every vdev has its own {}, or all "
               "share it; spread over an attribute such as host or rack", key, key);
  }
  return Ok();
}

std::string SpreadOfRowQuery(const std::string& query) {
  auto parsed = ParseQuery(query);
  if (!parsed) return "";
  for (const QueryConstraint& c : parsed->constraints) {
    if (c.kind == ConstraintKind::kUnique && c.key != "name") return c.key;
  }
  return "";
}

size_t RowWidth(std::span<const VdevConfig* const> vdevs, const std::string& spread) {
  if (spread.empty()) return vdevs.size();
  std::set<std::string> values;
  for (const VdevConfig* v : vdevs) {
    if (auto it = v->attrs.find(spread); it != v->attrs.end()) values.insert(it->second);
  }
  return values.size();
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
