// The resource query a volume's data rows are placed with (the lun
// segment's `query`, core/segment/lun_segment.h): a tier, and for a row of
// several devices, distinct vdevs. Internal to core/volume.
//
//   simple:      1:tier:1:TIER:1
//   N devices:   1:tier:1:TIER:1.1:name:65:any:3.3:any:3:any:3
//   spread:      the N-device form, then .1:KEY:65:any:3.3:any:3:any:3
//
// A spread key (`volume create --spread host`) is a vdev attribute whose
// values a row's devices must all differ in: with `host`, losing one host
// costs a row at most one device.
//
// Contract
//  1. TierOfRowQuery reads the tier of any query that starts with the tier
//     term, the form RowQuery writes; nothing else is a row query.
//  2. RowQueryWithTier changes only the tier term, so a row query keeps its
//     spread through tier fallback and volume move.
//  3. SpreadOfRowQuery(RowQuery(t, n, key)) == key for n > 1 and a valid
//     key; a query without a unique term beyond `name` has the spread "".
//  4. RowWidth is the most devices one row can take over `vdevs` (which
//     the caller has filtered, by tier say): their number, or with a spread
//     key, the number of distinct values of it among them; a vdev without
//     the attribute counts for none, as the query never picks it.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/pool/address.h"
#include "core/pool/config.h"
#include "core/util/status.h"

namespace tessera {

// `spread` is empty or a key ValidateSpreadKey accepts; only a row of
// several devices has a spread term.
std::string RowQuery(Tier tier, uint32_t devices, const std::string& spread = "");
// InvalidArgument, naming the rule, unless `key` is a vdev attribute name
// that can spread rows: pool.conf's key characters, starting with a
// letter, and none of the keys every vdev has (name, tier, index, path,
// size, state, kind, uri).
Status ValidateSpreadKey(const std::string& key);
std::string SpreadOfRowQuery(const std::string& query);
size_t RowWidth(std::span<const VdevConfig* const> vdevs, const std::string& spread);
std::optional<Tier> TierOfRowQuery(const std::string& query);
// InvalidArgument when `query` is not a row query (contract 1).
Result<std::string> RowQueryWithTier(const std::string& query, Tier tier);
// The other tiers, nearest to `tier` first; of two as near, the slower.
std::vector<Tier> TiersNearest(Tier tier);

}  // namespace tessera
