// Storage: evening out the vdevs of each tier (pool rebalance), one step
// per call (PoolApi::RebalancePool).
//
// Design notes
//  1. What is even: a tier's vdevs that take new blocks (online, not
//     draining) are within the slack of each other in used blocks, the
//     slack being twice the largest row block of any volume. One row moved
//     off the fullest vdev lowers it by about one block and raises another
//     by at most one, so a tier further apart than the slack always gets
//     closer, and one within it might only swap which vdev is fullest.
//     Each step first frees the rows with nothing live that the cleaner may
//     free (what closing a volume would free), so that the used space it
//     compares is the data that stays.
//  2. A step picks the tier furthest apart beyond its slack and its
//     fullest vdev, marks that vdev draining for the step only (slot_vdev.h:
//     no new row lands on it, so the row's live blocks go elsewhere), and
//     moves one data row of the first volume that has a movable one there
//     with vdev remove's step (VolumeImpl::EvacuateStep, volume_move.cc
//     note 5), the volume held kShared without mu_. Only settled rows move
//     (kSettledRows): rows snapshots pin stay, as moving their live blocks
//     would free nothing on the vdev, and so do rows at or past the log
//     head, which clients' writes keep growing there (the step commits
//     first, so the recorded head is the one of now). A volume
//     whose rows cannot find their width without the fullest vdev (of
//     distinct vdevs, or of its spread's values: row_query.h) is left
//     alone. When no volume has a row that can go, the rebalance is
//     done (and blocked, when snapshots pin rows there).
//  3. Crash safety is the move's: each step is a commit of its own, and the
//     draining mark lives in memory only, so a crash leaves the vdev as any
//     other (a remove's mark is never touched: a draining vdev is not a
//     candidate).
//  4. Like vdev remove, it holds work_mu_ throughout.
#include <algorithm>

#include "core/util/log.h"
#include "core/util/size.h"
#include "core/volume/row_query.h"
#include "core/volume/storage_impl.h"

namespace tessera {
namespace {

// Marks a vdev draining for one step (note 2).
class StepDrain {
 public:
  explicit StepDrain(SlotVdev& slot) : slot_(slot) { slot_.SetDraining(true); }
  ~StepDrain() { slot_.SetDraining(false); }
  StepDrain(const StepDrain&) = delete;
  StepDrain& operator=(const StepDrain&) = delete;

 private:
  SlotVdev& slot_;
};

}  // namespace

Result<RebalanceProgress> Storage::Impl::RebalancePool() {
  std::lock_guard work(work_mu_);  // note 4
  std::unique_lock lock(mu_);
  Pool& pool = db_->pool();
  // Note 2: a commit records every log head, so that only the rows clients
  // are writing now are not settled.
  TRY_STATUS(WithHold(lock, {}, Hold::kShared, [&] { return CommitAll(); }));
  std::vector<std::shared_ptr<VolumeImpl>> volumes;
  uint64_t largest_block = 0;
  for (const DatasetInfo& d : TRY(db_->ListDatasets())) {
    auto volume = TRY(OpenVolumeLocked(d.name));
    // Note 1: rows with nothing live are freed first, so used space is
    // live data and rows still in use.
    TRY_STATUS(WithHold(lock, {d.name}, Hold::kShared,
                        [&] { return volume->Clean(VolumeImpl::CleanMode::kFreeOnly); }));
    volumes.push_back(std::move(volume));
    for (const LunRowDesc& row : volumes.back()->parts().data->Rows()) {
      for (const LunBlock& b : row.blocks) largest_block = std::max(largest_block, b.size);
    }
  }
  RebalanceProgress progress{.slack_bytes = 2 * largest_block};
  // Note 2: the tier furthest apart, and its fullest vdev.
  const PoolVdev* fullest = nullptr;
  for (uint8_t t = 0; t < kTierCount; t++) {
    const PoolVdev* most = nullptr;
    uint64_t most_used = 0, least_used = UINT64_MAX;
    for (const PoolVdev& v : pool.vdevs()) {
      if (static_cast<uint8_t>(v.config.tier) != t || !v.device->takes_new_blocks()) continue;
      const uint64_t used = VdevUsedBlocks(*db_, v) * kBlockSize;
      least_used = std::min(least_used, used);
      if (most == nullptr || used > most_used) {
        most = &v;
        most_used = used;
      }
    }
    if (most == nullptr || least_used == UINT64_MAX) continue;
    const uint64_t spread = most_used - least_used;
    if (spread > progress.slack_bytes && spread > progress.spread_bytes) {
      fullest = most;
      progress.spread_bytes = spread;
    }
  }
  if (fullest == nullptr || volumes.empty()) {
    progress.done = true;
    return progress;
  }
  progress.tier = std::string(TierName(fullest->config.tier));
  progress.vdev = fullest->config.name;
  bool pinned_there = false;  // a volume with snapshots has rows on the fullest vdev
  for (const auto& volume : volumes) {
    const std::string name = volume->name();
    const bool has_rows = std::ranges::any_of(volume->parts().data->Rows(), [&](const LunRowDesc& row) {
      return RowUsesVdev(row, fullest->config.tier, fullest->config.index);
    });
    if (!has_rows) continue;
    // A row must find its width of vdevs without the fullest one, in its
    // volume's tier (note 2): rows never spill for a rebalance.
    const LunSegment& lun = volume->parts().data->lun();
    const std::optional<Tier> tier = TierOfRowQuery(lun.query());
    std::vector<const VdevConfig*> others;
    for (const PoolVdev& v : pool.vdevs()) {
      if (&v != fullest && v.device->takes_new_blocks() && tier == v.config.tier) others.push_back(&v.config);
    }
    if (RowWidth(others, SpreadOfRowQuery(lun.query())) < lun.options().n_devices) continue;
    MoveProgress step = TRY(WithHold(lock, {name}, Hold::kShared, [&]() -> Result<MoveProgress> {
      StepDrain drain(*fullest->device);
      return volume->EvacuateStep(fullest->config.tier, fullest->config.index,
                                  VolumeImpl::EvacuateMode::kSettledRows);
    }));
    if (step.done) {  // nothing of it can leave that vdev now
      pinned_there = pinned_there || !TRY(db_->ListSnapshots(name)).empty();
      continue;
    }
    progress.volume = name;
    progress.moved_bytes = step.moved_bytes;
    return progress;
  }
  progress.done = true;
  progress.blocked = pinned_there;
  if (pinned_there) {
    Log(LogLevel::kInfo, "rebalance: vdev '{}' is {} fuller than the emptiest of tier {}, but only rows that "
        "snapshots pin could leave it", progress.vdev, FormatSize(progress.spread_bytes), progress.tier);
  }
  return progress;
}

}  // namespace tessera
