// Moving a volume's data rows to another tier (VolumeImpl::MoveStep), or
// off a vdev being removed (EvacuateStep), with the cleaner's machinery
// (volume_clean.cc).
//
// Design notes
//  1. The tier lives in the lun's row query (row_query.h). A move first
//     changes it and commits, so every row grown from then on, by clients'
//     writes or by the move, comes from the new tier; a crash after that
//     leaves a volume whose later rows are on the new tier, and moving
//     again goes on from there.
//  2. Rows off the tier leave in this order, one row per step, so a client
//     keeps being served between steps:
//       a. the log's head: relocated data is appended at the head, so while
//          the head's row or a row after it is off the tier, everything
//          moved would land off the tier again. The head skips
//          (LogSegment::SkipToRow) to the first row from which every row is
//          on the tier, grown when there is none; a commit then records the
//          head, so every row before it is the cleaner's to take;
//       b. a row wholly before the recorded head (volume_clean.cc note 1):
//          its live blocks are relocated and it is freed, as the cleaner
//          does;
//       c. rows between the recorded head and the head: a commit records
//          the head.
//  3. Snapshots: a row the newest snapshot may map (volume_clean.cc note 5)
//     is not freed. Its live blocks move all the same, so the volume reads
//     from the new tier; the row itself stays for the snapshots (held bytes)
//     and the cleaner frees it once they are deleted.
//  4. A step never spills rows to another tier (volume_impl.cc note 4b): a
//     row grown off the tier would be one more row to move. When the tier
//     fills, the step fails with NoSpace instead.
//  5. vdev remove (core/volume/storage_vdev_remove.cc) empties a vdev with
//     the same steps (EvacuateStep): the rows to leave are those with a
//     block on the vdev, which is draining, so no new row lands on it
//     (volume_impl.cc note 4c); its rows may spill to another tier when
//     theirs is full, as any new row may. Pool rebalance
//     (storage_rebalance.cc) uses the same step on the fullest vdev of a
//     tier, which drains for that step only, so it takes only settled rows
//     (kSettledRows): not those snapshots pin (moving their live blocks
//     would free nothing there), nor those at or past the recorded head,
//     which clients' writes keep growing on every vdev (skipping the head
//     off them would never end).
#include <algorithm>

#include "core/volume/row_query.h"
#include "core/volume/storage_core.h"
#include "core/volume/volume_impl.h"

namespace tessera {
namespace {

bool OnTier(const LunRowDesc& row, Tier tier) {
  return std::ranges::all_of(row.blocks, [&](const LunBlock& b) { return b.address.tier() == tier; });
}

}  // namespace

bool RowUsesVdev(const LunRowDesc& row, Tier tier, uint32_t index) {
  return std::ranges::any_of(
      row.blocks, [&](const LunBlock& b) { return b.address.tier() == tier && b.address.vdev() == index; });
}

Result<MoveProgress> VolumeImpl::MoveStep(Tier tier) {
  std::lock_guard lock(grow_mu_);
  if (retired()) return Err(Code::kBusy, "volume '{}' was closed during the move; move it again", parts_.name);
  strict_tier_ = true;  // note 4
  struct Unstrict {
    bool& strict;
    ~Unstrict() { strict = false; }
  } unstrict{strict_tier_};
  if (parts_.read_only) return Err(Code::kReadOnly, "'{}' is a snapshot; only volumes move", parts_.name);
  LunSegment& lun = parts_.data->lun();
  if (TierOfRowQuery(lun.query()) != tier) {  // note 1
    lun.SetQuery(TRY(RowQueryWithTier(lun.query(), tier)));
    TRY_STATUS(SaveExnode());
    TRY_STATUS(core_->CommitAll());
  }
  MoveProgress progress =
      TRY(RelocationStepLocked([&](const LunRowDesc& row, bool) { return OnTier(row, tier); }));
  progress.tier = std::string(TierName(tier));
  return progress;
}

Result<MoveProgress> VolumeImpl::EvacuateStep(Tier tier, uint32_t index, EvacuateMode mode) {
  std::lock_guard lock(grow_mu_);
  if (retired()) return Err(Code::kBusy, "volume '{}' was closed meanwhile; run the step again", parts_.name);
  if (parts_.read_only) return Err(Code::kReadOnly, "'{}' is a snapshot; its rows stay", parts_.name);
  const uint64_t settled = parts_.log->ReclaimableBefore();
  return RelocationStepLocked([&](const LunRowDesc& row, bool pinned) {
    if (mode == EvacuateMode::kSettledRows && (pinned || row.seg_end > settled)) return true;  // note 5
    return !RowUsesVdev(row, tier, index);
  });
}

Result<MoveProgress> VolumeImpl::RelocationStepLocked(
    const std::function<bool(const LunRowDesc&, bool pinned)>& stays) {
  LogSegment& log = *parts_.log;
  const uint64_t row_bytes = parts_.data->row_bytes();
  const std::vector<LunRowDesc> rows = parts_.data->Rows();
  const std::set<uint64_t> pinned = TRY(PinnedRowsLocked(rows));
  const auto live = TRY(log.RowLiveBlocks());
  auto live_of = [&](uint64_t start) {
    auto it = live.find(start);
    return it == live.end() ? 0 : static_cast<uint64_t>(std::max<int64_t>(it->second, 0));
  };
  MoveProgress progress;
  std::vector<LunRowDesc> off;  // rows still to move or free
  for (const LunRowDesc& row : rows) {
    if (stays(row, pinned.contains(row.seg_offset))) continue;
    if (live_of(row.seg_offset) == 0 && pinned.contains(row.seg_offset)) {
      for (const LunBlock& b : row.blocks) progress.held_bytes += b.size;  // note 3
      continue;
    }
    off.push_back(row);
    progress.bytes_left += live_of(row.seg_offset) * kBlockSize;
  }
  progress.rows_left = off.size();
  if (off.empty()) {
    progress.done = true;
    return progress;
  }
  // Note 2a: the first row from which every row stays.
  const uint64_t head_row = log.HeadOffset() / row_bytes * row_bytes;
  std::optional<uint64_t> landing;
  auto stays_row = [&](const LunRowDesc& row) { return stays(row, pinned.contains(row.seg_offset)); };
  for (auto it = rows.rbegin(); it != rows.rend() && stays_row(*it) && it->seg_offset > head_row; ++it) {
    landing = it->seg_offset;
  }
  const bool head_off = std::ranges::any_of(
      rows, [&](const LunRowDesc& row) { return row.seg_offset >= head_row && !stays_row(row); });
  if (head_off) {
    if (!landing) {
      landing = TRY(GrowAndSaveLocked()).seg_offset;
      TRY_STATUS(core_->CommitAll());
    }
    TRY_STATUS(log.SkipToRow(*landing));
    if (log.SpareRows() < 1) TRY_STATUS(GrowLocked());  // commits
    TRY_STATUS(core_->CommitAll());
    return progress;
  }
  // Note 2b.
  const uint64_t limit = log.ReclaimableBefore();
  for (const LunRowDesc& row : off) {
    if (row.seg_end > limit) break;
    const uint64_t moved = live_of(row.seg_offset) * kBlockSize;
    if (moved > 0) {
      int64_t left = TRY(RelocateLocked(row.seg_offset));
      if (left > 0) {
        return Err(Code::kIOError, "volume '{}': {} live blocks of row {} could not be relocated; the move stops "
                   "there (tessera volume inspect finds why)", parts_.name, left, row.seg_offset / row_bytes);
      }
    }
    if (!pinned.contains(row.seg_offset)) TRY_STATUS(FreeRowsLocked({row.seg_offset}));
    TRY_STATUS(SaveExnode());
    TRY_STATUS(core_->CommitAll());
    progress.moved_bytes = moved;
    progress.rows_left--;
    progress.bytes_left -= moved;
    return progress;
  }
  // Note 2c.
  TRY_STATUS(core_->CommitAll());
  return progress;
}

}  // namespace tessera
