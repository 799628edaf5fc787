// The resource query a volume's data rows are placed with (the lun
// segment's `query`, core/segment/lun_segment.h): a tier, and for a row of
// several devices, distinct vdevs. Internal to core/volume.
//
//   simple:      1:tier:1:TIER:1
//   N devices:   1:tier:1:TIER:1.1:name:65:any:3.3:any:3:any:3
//
// Contract
//  1. TierOfRowQuery reads the tier of any query that starts with the tier
//     term, the form RowQuery writes; nothing else is a row query.
//  2. RowQueryWithTier changes only the tier term.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/pool/address.h"
#include "core/util/status.h"

namespace tessera {

std::string RowQuery(Tier tier, uint32_t devices);
std::optional<Tier> TierOfRowQuery(const std::string& query);
// InvalidArgument when `query` is not a row query (contract 1).
Result<std::string> RowQueryWithTier(const std::string& query, Tier tier);
// The other tiers, nearest to `tier` first; of two as near, the slower.
std::vector<Tier> TiersNearest(Tier tier);

}  // namespace tessera
