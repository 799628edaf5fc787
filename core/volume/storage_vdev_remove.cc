// Storage: removing a vdev from the pool (vdev remove), one step per call
// (PoolApi::RemoveVdev).
//
// Design notes
//  1. The first step checks (note 2) and marks the vdev draining
//     (slot_vdev.h): from then on neither data rows (volume_impl.cc note
//     4c) nor tree nodes (Allocator contract 4) are placed on it. Each step
//     after that does one thing, in this order:
//       a. moves one data row of one volume off the vdev, with the volume
//          move's machinery (VolumeImpl::EvacuateStep, volume_move.cc note
//          5), the volume held kShared without mu_, so its clients go on;
//       b. once no volume has a row there, writes every tree node with a
//          copy on the vdev anew elsewhere (Database::EvacuateMetadata);
//       c. once nothing is left, takes the vdev out (Database::RemoveVdev,
//          which believes only the allocator: nothing allocated there but
//          its reserved blocks), writes pool.conf with `state = removed`
//          and zeroes the vdev's labels, so the device can be used again.
//  2. Refusals, checked by the first step before anything changes: a vdev
//     that is not online (its data cannot be read; replace it instead);
//     snapshots that name blocks on it (their exNodes cannot be rewritten:
//     delete them first); a volume with rows there whose row needs more
//     vdevs (or values of its spread key) than any tier keeps without it;
//     fewer vdevs for metadata than the copies the volumes need (M+1 for
//     rs:K+M, database.h contract 5); and the other vdevs' room (NoSpace).
//  3. Draining lives in memory only. A remove cut off by a crash or an
//     error leaves the vdev in the pool with part of its data moved; the
//     next call checks again and goes on. The pool is consistent at every
//     step: each is a commit of its own (the move's and the metadata's
//     crash safety), and pool.conf changes only after the commit that took
//     the vdev out (database.h contract 10). A crash between that commit
//     and pool.conf reopens the vdev empty; the next call ends at once. A
//     call for a vdev removed already writes pool.conf again and is done.
//  4. Like vdev replace, it holds work_mu_ throughout, so no scrub, replace
//     or other vdev change runs meanwhile; short calls and I/O go on.
#include <algorithm>
#include <set>

#include "core/pool/device_contents.h"
#include "core/util/log.h"
#include "core/util/size.h"
#include "core/util/units.h"
#include "core/volume/row_query.h"
#include "core/volume/storage_impl.h"

namespace tessera {
namespace {

bool OnVdev(DiskAddress address, const PoolVdev& vdev) {
  return address.tier() == vdev.config.tier && address.vdev() == vdev.config.index;
}

// Vdevs that can take new blocks once `leaving` is gone.
bool Remains(const PoolVdev& v, const PoolVdev& leaving) {
  return &v != &leaving && v.device->takes_new_blocks();
}

}  // namespace

uint64_t VdevUsedBlocks(Database& db, const PoolVdev& vdev) {
  SpaceUsage u = db.allocator().UsageOfVdev(vdev.config.tier, vdev.config.index);
  const uint64_t reserved = vdev.first + 1;  // label and superblock slots, end label
  return u.allocated_blocks > reserved ? u.allocated_blocks - reserved : 0;
}

Status Storage::Impl::CheckRemovable(const PoolVdev& vdev) {
  const std::string& name = vdev.config.name;
  Pool& pool = db_->pool();
  // Metadata: the copies the volumes need, on distinct vdevs (database.h
  // contract 5), and at least one vdev for the superblock.
  uint32_t parity = 0;
  std::vector<std::shared_ptr<VolumeImpl>> volumes;
  for (const DatasetInfo& d : TRY(db_->ListDatasets())) {
    volumes.push_back(TRY(OpenVolumeLocked(d.name)));
    parity = std::max(parity, volumes.back()->parts().data->parity());
  }
  const auto tiers = db_->metadata_tiers();
  const auto metadata_left = std::ranges::count_if(pool.vdevs(), [&](const PoolVdev& v) {
    return Remains(v, vdev) && std::ranges::find(tiers, v.config.tier) != tiers.end();
  });
  if (metadata_left < static_cast<int64_t>(parity) + 1) {
    return Err(Code::kInvalidArgument, "vdev remove: the volumes need {} copies of the pool's metadata on distinct "
               "vdevs; without '{}', {} vdev(s) could hold them", parity + 1, name, metadata_left);
  }
  // Data: snapshots, row widths, room.
  for (const auto& volume : volumes) {
    const std::string& volume_name = volume->name();
    for (const SnapshotInfo& s : TRY(db_->ListSnapshots(volume_name))) {
      auto tree = TRY(db_->OpenSnapshot(volume_name, s.name));
      for (const auto& b : TRY(ExnodeDataBlocks(*tree))) {
        if (!OnVdev(b.address, vdev)) continue;
        return Err(Code::kInvalidArgument, "vdev remove: snapshot '{}@{}' names data on vdev '{}', and snapshots "
                   "are never rewritten; delete it first (or move the volume off the vdev's tier before the next "
                   "snapshot)", volume_name, s.name, name);
      }
    }
    const LunSegment& lun = volume->parts().data->lun();
    const bool has_rows = std::ranges::any_of(volume->parts().data->Rows(), [&](const LunRowDesc& row) {
      return RowUsesVdev(row, vdev.config.tier, vdev.config.index);
    });
    if (!has_rows) continue;
    const uint32_t devices = lun.options().n_devices;
    std::optional<Tier> own = TierOfRowQuery(lun.query());
    const std::string spread = SpreadOfRowQuery(lun.query());
    size_t widest = 0;
    for (uint8_t t = 0; t < kTierCount; t++) {
      std::vector<const VdevConfig*> remaining;
      for (const PoolVdev& v : pool.vdevs()) {
        if (Remains(v, vdev) && static_cast<uint8_t>(v.config.tier) == t) remaining.push_back(&v.config);
      }
      widest = std::max(widest, RowWidth(remaining, spread));
    }
    if (widest < devices) {
      return Err(Code::kInvalidArgument, "vdev remove: a row of volume '{}' spans {} vdevs{}; without '{}', no tier "
                 "has that many{}", volume_name, devices,
                 spread.empty() ? "" : fmt::format(" of distinct {}", spread), name,
                 own ? fmt::format(" (tier {} is the volume's)", TierName(*own)) : "");
    }
  }
  uint64_t room = 0;
  for (const PoolVdev& v : pool.vdevs()) {
    if (!Remains(v, vdev)) continue;
    SpaceUsage u = db_->allocator().UsageOfVdev(v.config.tier, v.config.index);
    uint64_t taken = u.allocated_blocks + u.quarantined_blocks + MetadataReserveBlocks(u.total_blocks);
    if (u.total_blocks > taken) room += (u.total_blocks - taken) * kBlockSize;
  }
  const uint64_t used = VdevUsedBlocks(*db_, vdev) * kBlockSize;
  if (room < used) {
    return Err(Code::kNoSpace, "vdev remove: vdev '{}' holds {}; the other vdevs have room for {}", name,
               FormatSize(used), FormatSize(room));
  }
  return Ok();
}

Result<VdevRemoveProgress> Storage::Impl::RemoveVdev(const std::string& name) {
  std::lock_guard work(work_mu_);  // note 4
  std::unique_lock lock(mu_);
  Pool& pool = db_->pool();
  const PoolVdev* vdev = TRY(pool.FindNamed(name));
  if (vdev->removed()) {  // note 3: pool.conf may not say so yet
    TRY_STATUS(SavePoolConfig());
    return VdevRemoveProgress{.name = name, .phase = "removed", .done = true};
  }
  if (!vdev->device->online()) {  // note 2, at every step
    return Err(Code::kInvalidArgument, "vdev remove: vdev '{}' is {}; its data cannot be read to move it (bring it "
               "online, or replace it)", name, VdevStateName(vdev->device->state()));
  }
  if (!vdev->device->draining()) {  // note 1
    TRY_STATUS(CheckRemovable(*vdev));
    vdev->device->SetDraining(true);
    Log(LogLevel::kInfo, "vdev '{}' is being removed: nothing new goes to it", name);
  }
  VdevRemoveProgress progress{.name = name, .phase = "data"};
  // Note 1a: the first volume with a row there moves one row.
  std::shared_ptr<VolumeImpl> first;
  for (const DatasetInfo& d : TRY(db_->ListDatasets())) {
    auto volume = TRY(OpenVolumeLocked(d.name));
    uint64_t rows = 0;
    for (const LunRowDesc& row : volume->parts().data->Rows()) {
      rows += RowUsesVdev(row, vdev->config.tier, vdev->config.index);
    }
    progress.rows_left += rows;
    if (rows > 0 && !first) first = volume;
  }
  if (first) {
    const std::string volume_name = first->name();
    MoveProgress step = TRY(WithHold(lock, {volume_name}, Hold::kShared, [&] {
      return first->EvacuateStep(vdev->config.tier, vdev->config.index);
    }));
    if (step.rows_left == 0 && step.held_bytes > 0) {
      return Err(Code::kInvalidArgument, "vdev remove: snapshots of volume '{}' taken since the remove began hold {} "
                 "on vdev '{}'; delete them and run the remove again", volume_name, FormatSize(step.held_bytes),
                 name);
    }
    progress.volume = volume_name;
    progress.moved_bytes = step.moved_bytes;
    progress.used_bytes = VdevUsedBlocks(*db_, *vdev) * kBlockSize;
    return progress;
  }
  // Note 1b.
  progress.phase = "metadata";
  progress.nodes_moved = TRY(db_->EvacuateMetadata(name));
  progress.used_bytes = VdevUsedBlocks(*db_, *vdev) * kBlockSize;
  if (progress.nodes_moved > 0) return progress;
  // Note 1c.
  std::shared_ptr<Vdev> device = vdev->device->device();
  // Its rows moved off it: nothing left for it to catch up on.
  TRY_STATUS(db_->ForgetMissedWritesOn(Database::MissedVdev(vdev->config.tier, vdev->config.index)));
  TRY_STATUS(db_->RemoveVdev(name));
  if (Status saved = SavePoolConfig(); !saved) {
    return Err(saved.error().WithContext(fmt::format(
        "vdev remove: vdev '{}' is out of the pool, but pool.conf does not say so yet; run the remove again",
        name)));
  }
  if (device) ClearLabels(*device);
  Log(LogLevel::kInfo, "vdev '{}' removed from the pool; {} is free for other use", name, vdev->config.path);
  progress.phase = "removed";
  progress.used_bytes = 0;
  progress.done = true;
  return progress;
}

}  // namespace tessera
