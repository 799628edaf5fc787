// Storage: moving a volume to another tier (MoveVolume); the steps
// themselves are the volume's (volume_move.cc).
//
// Design notes
//  1. Each step is long work (storage_impl.h, locking notes): it holds
//     work_mu_, so no scrub, replace or vdev offline changes the pool under
//     it, and the volume kShared without mu_, so clients keep using the
//     volume and other short calls go on; calls that change the volume
//     (snapshot create, resize, delete) wait for the step.
//  2. Before the first step (the volume's rows still go to another tier)
//     the tier must hold a row: as many vdevs as a row has devices, and room
//     for the rows with live data off the tier plus two (the landing row
//     and a spare, volume_move.cc note 2a). Refused before anything
//     changes; later steps do not check again, so a move cut off by a crash
//     or an error goes on from where it stopped.
#include <algorithm>

#include "core/alloc/allocator.h"
#include "core/util/size.h"
#include "core/util/units.h"
#include "core/volume/row_query.h"
#include "core/volume/storage_impl.h"

namespace tessera {
namespace {

// Bytes new data rows may still take in `tier`: each vdev's free blocks
// less its metadata reserve.
uint64_t DataRoomInTier(Database& db, Tier tier) {
  uint64_t room = 0;
  for (const PoolVdev& v : db.pool().vdevs()) {
    if (v.config.tier != tier || !v.device || !v.device->online()) continue;
    SpaceUsage u = db.allocator().UsageOfVdev(tier, v.config.index);
    uint64_t taken = u.allocated_blocks + u.quarantined_blocks + MetadataReserveBlocks(u.total_blocks);
    if (u.total_blocks > taken) room += (u.total_blocks - taken) * kBlockSize;
  }
  return room;
}

}  // namespace

Status Storage::Impl::CheckMoveFits(VolumeImpl& volume, Tier tier) {
  const std::string& name = volume.name();
  LunSegment& lun = volume.parts().data->lun();
  const uint32_t devices = lun.options().n_devices;
  const auto in_tier = std::ranges::count_if(db_->pool().vdevs(), [&](const PoolVdev& v) {
    return v.config.tier == tier && v.device && v.device->online();
  });
  if (in_tier < devices) {
    return Err(Code::kInvalidArgument, "volume '{}' needs {} online vdevs in tier {} for a row; the tier has {}",
               name, devices, TierName(tier), in_tier);
  }
  uint64_t row_disk_bytes = 0;
  uint64_t needed = 0;
  auto live = TRY(volume.log().RowLiveBlocks());
  for (const LunRowDesc& row : volume.parts().data->Rows()) {
    uint64_t bytes = 0;
    bool on_tier = true;
    for (const LunBlock& b : row.blocks) {
      bytes += b.size;
      on_tier = on_tier && b.address.tier() == tier;
    }
    row_disk_bytes = std::max(row_disk_bytes, bytes);
    auto it = live.find(row.seg_offset);
    if (!on_tier && it != live.end() && it->second > 0) needed += bytes;
  }
  needed += 2 * row_disk_bytes;
  const uint64_t room = DataRoomInTier(*db_, tier);
  if (room < needed) {
    return Err(Code::kNoSpace, "tier {} has room for {} of data rows; moving volume '{}' needs about {}",
               TierName(tier), FormatSize(room), name, FormatSize(needed));
  }
  return Ok();
}

Result<MoveProgress> Storage::Impl::MoveVolume(const std::string& name, Tier tier) {
  std::lock_guard work(work_mu_);  // note 1
  auto lock = LockIdle(name);
  TRY_STATUS(RefuseSnapshotName(name, "volume move"));
  auto volume = TRY(OpenVolumeLocked(name));
  if (TierOfRowQuery(volume->parts().data->lun().query()) != tier) TRY_STATUS(CheckMoveFits(*volume, tier));
  return WithHold(lock, {name}, Hold::kShared, [&] { return volume->MoveStep(tier); });
}

}  // namespace tessera
