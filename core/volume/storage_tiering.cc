// Automatic tiering (Storage::TierStep): with `tiering = on` in pool.conf,
// every open volume's log counts how its data rows are used
// (core/segment/row_heat.h), and each step moves one row a tier up when it
// is hot or down when it is cold (VolumeImpl::RetierRow, volume_retier.cc).
//
// Design notes
//  1. Heat lives in memory, per volume name, from the first open of the
//     volume in this process until it is deleted or renamed: clients that
//     connect and disconnect add to one heat. At first every row is at 0
//     and idle since then (RowHeat contract 3), so nothing moves down before
//     `cold_after` half-lives. Only volumes some client has open are looked
//     at: the rows of the others stay where they are.
//  2. Up: the hottest row with heat >= hot, to the nearest faster tier that
//     has enough usable vdevs for the row (online, not draining) and stays
//     within `tiering-limit` of its blocks with the row. Down: the coldest
//     row with heat < cold that has been idle `cold_after` half-lives, to
//     the nearest slower tier with usable vdevs and room. Up comes first:
//     serving hot data fast is the point; the gap between hot and cold
//     keeps a row from going back and forth.
//  3. One row per step, so clients lose at most one row's copy of device
//     time per interval. A step is long work (storage_impl.h, locking note
//     2) that never waits for other long work: it only tries work_mu_ and
//     skips the step while a scrub, replace, move, remove or rebalance
//     runs. It holds the volume kShared, so a resize, delete or snapshot
//     waits for the copy.
//  4. Rows a snapshot names stay (volume_retier.cc note 1) and are passed
//     over, so they never keep other rows from moving.
//  5. Where new rows go is still the volume's tier: a volume on the fastest
//     tier with tiering on writes there and its cold rows sink; one on a
//     slow tier has its hot rows rise.
#include <algorithm>
#include <array>

#include "core/alloc/allocator.h"
#include "core/util/log.h"
#include "core/util/size.h"
#include "core/volume/storage_impl.h"

namespace tessera {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;
// Candidates tried per step when the first ones cannot move (a snapshot
// names them, or the row changed meanwhile).
constexpr size_t kTriesPerStep = 8;

struct Candidate {
  std::string volume;
  uint64_t row_offset = 0;
  Tier from = Tier::kFastest;
  Tier to = Tier::kFastest;
  double heat = 0;
  uint64_t bytes = 0;
};

// How many vdevs of each tier take new rows now (online, not draining).
using TierCounts = std::array<size_t, kTierCount>;
TierCounts UsableVdevs(const Pool& pool) {
  TierCounts usable{};
  for (const PoolVdev& v : pool.vdevs()) {
    if (v.device && v.device->takes_new_blocks()) usable[static_cast<size_t>(v.config.tier)]++;
  }
  return usable;
}

// The nearest tier above (up) or below `tier` with `devices` usable vdevs.
std::optional<Tier> NeighbourTier(const TierCounts& usable, Tier tier, bool up, size_t devices) {
  int t = static_cast<int>(tier);
  for (t += up ? -1 : 1; t >= 0 && t < static_cast<int>(kTierCount); t += up ? -1 : 1) {
    if (usable[static_cast<size_t>(t)] >= devices) return static_cast<Tier>(t);
  }
  return std::nullopt;
}

// Whether `tier` holds `bytes` more and stays within `percent` of its blocks.
bool FitsWithin(const Allocator& allocator, Tier tier, uint64_t bytes, uint32_t percent) {
  SpaceUsage u = allocator.UsageOfTier(tier);
  const uint64_t after = u.allocated_blocks + u.quarantined_blocks + bytes / kBlockSize;
  return after * 100 <= u.total_blocks * percent;
}

// The tier of every block of `row`, when they share one.
std::optional<Tier> TierOf(const LunRowDesc& row) {
  if (row.blocks.empty()) return std::nullopt;
  const Tier tier = row.blocks.front().address.tier();
  for (const LunBlock& b : row.blocks) {
    if (b.address.tier() != tier) return std::nullopt;
  }
  return tier;
}

}  // namespace

TieringStatus Storage::Impl::TieringSettingLocked() {
  if (!tiering_setting_) {  // pool.conf as the pool opened with it
    const PoolConfig& config = db_->pool().config();
    tiering_setting_ = TieringStatus{
        .enabled = config.tiering,
        .limit_percent = config.tiering_limit_percent ? config.tiering_limit_percent : kDefaultTieringLimitPercent,
        .half_life_s = config.tiering_half_life_s ? config.tiering_half_life_s : kDefaultTieringHalfLifeS};
  }
  return *tiering_setting_;
}

std::shared_ptr<RowHeat> Storage::Impl::HeatFor(const std::string& name, const DataSegment& data) {
  std::lock_guard lock(tiering_mu_);
  const TieringStatus setting = TieringSettingLocked();
  if (!setting.enabled) return nullptr;
  std::shared_ptr<RowHeat>& heat = heats_[name];  // note 1
  if (!heat || heat->row_bytes() != data.row_bytes()) {
    heat = std::make_shared<RowHeat>(data.row_bytes(), setting.half_life_s * kNsPerSecond, options_.tiering.clock);
  }
  return heat;
}

void Storage::Impl::ForgetHeat(const std::string& name) {
  std::lock_guard lock(tiering_mu_);
  heats_.erase(name);
}

TieringStatus Storage::Impl::TieringStatusNow() {
  std::lock_guard lock(tiering_mu_);
  TieringStatus status = TieringSettingLocked();
  status.promoted_rows = tiering_moved_.promoted_rows;
  status.promoted_bytes = tiering_moved_.promoted_bytes;
  status.demoted_rows = tiering_moved_.demoted_rows;
  status.demoted_bytes = tiering_moved_.demoted_bytes;
  return status;
}

Result<TieringMove> Storage::Impl::TierStep() {
  const TieringStatus setting = TieringStatusNow();
  if (!setting.enabled) return TieringMove{};
  std::unique_lock work(work_mu_, std::try_to_lock);  // note 3
  if (!work.owns_lock()) return TieringMove{};
  const TieringOptions& options = options_.tiering;
  const TierCounts usable = UsableVdevs(db_->pool());
  std::vector<Candidate> ups, downs;  // note 2
  for (const std::shared_ptr<VolumeImpl>& volume : OpenVolumes()) {
    if (volume->read_only() || volume->retired() || !volume->parts().heat) continue;
    RowHeat& heat = *volume->parts().heat;
    const uint64_t cold_idle_ns = heat.half_life_ns() * options.cold_after;
    const uint64_t settled = volume->log().ReclaimableBefore();
    std::set<uint64_t> starts;
    for (const LunRowDesc& row : volume->parts().data->Rows()) {
      starts.insert(row.seg_offset);
      const std::optional<Tier> tier = TierOf(row);
      if (!tier || row.seg_end > settled) continue;
      const RowHeat::Reading reading = heat.Read(row.seg_offset);
      const bool hot = reading.heat >= options.hot;
      if (!hot && (reading.heat >= options.cold || reading.idle_ns < cold_idle_ns)) continue;
      const std::optional<Tier> to = NeighbourTier(usable, *tier, hot, row.blocks.size());
      if (!to) continue;
      uint64_t bytes = 0;
      for (const LunBlock& b : row.blocks) bytes += b.size;
      (hot ? ups : downs).push_back(Candidate{.volume = volume->name(), .row_offset = row.seg_offset,
                                              .from = *tier, .to = *to, .heat = reading.heat, .bytes = bytes});
    }
    heat.Retain(starts);
  }
  std::ranges::sort(ups, [](const Candidate& a, const Candidate& b) { return a.heat > b.heat; });
  std::ranges::sort(downs, [](const Candidate& a, const Candidate& b) { return a.heat < b.heat; });
  std::vector<Candidate> order = std::move(ups);
  order.insert(order.end(), downs.begin(), downs.end());

  std::map<std::string, std::set<uint64_t>> named;  // note 4, per volume
  size_t tries = 0;
  for (const Candidate& c : order) {
    const bool up = c.to < c.from;
    if (!FitsWithin(db_->allocator(), c.to, c.bytes, up ? setting.limit_percent : 100)) continue;
    if (tries++ == kTriesPerStep) break;
    auto lock = LockIdle(c.volume);
    std::shared_ptr<VolumeImpl> volume = FindOpen(c.volume);
    if (!volume) continue;  // closed meanwhile (note 1)
    if (!named.contains(c.volume)) named[c.volume] = TRY(SnapshotDataBlocks(*db_, c.volume));
    auto moved = WithHold(lock, {c.volume}, Hold::kShared,
                          [&] { return volume->RetierRow(c.row_offset, c.to, named[c.volume]); });
    if (!moved) {
      const Code code = moved.error().code();
      if (code == Code::kBusy || code == Code::kNotFound || code == Code::kNoSpace) continue;
      return Err(moved.error());
    }
    Log(LogLevel::kInfo, "tiering: volume '{}': row at {} ({}, heat {:.2f}) moved from tier {} to tier {}",
        c.volume, c.row_offset, FormatSize(*moved), c.heat, TierName(c.from), TierName(c.to));
    {
      std::lock_guard counters(tiering_mu_);
      (up ? tiering_moved_.promoted_rows : tiering_moved_.demoted_rows)++;
      (up ? tiering_moved_.promoted_bytes : tiering_moved_.demoted_bytes) += *moved;
    }
    return TieringMove{.moved = true, .volume = c.volume, .row_offset = c.row_offset,
                       .from = std::string(TierName(c.from)), .to = std::string(TierName(c.to)),
                       .bytes = *moved, .heat = c.heat};
  }
  return TieringMove{};
}

}  // namespace tessera
