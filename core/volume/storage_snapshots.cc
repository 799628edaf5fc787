// Storage: volume snapshots and their read-only exports.
//
// Design notes
//  1. A volume snapshot is a snapshot of its dataset (core/db): it pins the
//     tree root, and so the LBA mapping, as of a commit. Creating one first
//     flushes the volume, so every acknowledged write is in the tree.
//  2. The data the snapshot maps stays where it is because the cleaner pins
//     every row that existed when the newest snapshot was taken
//     (volume_clean.cc, note 5).
//  3. "VOLUME@SNAPSHOT" opens a read-only volume: the live volume's data
//     segment (its current exNode holds every pinned row) read through the
//     snapshot's tree, with no cache and no log head; writes get ReadOnly.
//     Its size is the one the snapshot recorded (its own exNode text).
//  4. A snapshot that clones depend on cannot be deleted (the clones read
//     through it); the error names them.
//  5. A volume whose last client has just disconnected is idle or closing
//     (open_table.h): CreateSnapshot flushes an idle one (FindOpen takes it
//     back) and waits for a close in progress, which commits, so writes
//     acknowledged to that client are in the snapshot.
//  6. Deleting a snapshot runs the volume's cleaner (free-only) at once, so
//     the data rows it alone pinned are free when the call returns.
#include <fmt/ranges.h>

#include "core/exnode/exnode.h"
#include "core/util/volume_ref.h"
#include "core/volume/storage_impl.h"

namespace tessera {

Status Storage::Impl::CreateSnapshot(const std::string& volume, const std::string& snapshot) {
  // Note 5: most cached writes go down before mu_ is taken (a large cache
  // takes seconds); the flush under it writes what came since.
  if (auto open = FindOpen(volume)) TRY_STATUS(open->Flush());
  auto lock = LockIdle(volume);
  if (!db_->OpenDataset(volume)) return Err(Code::kNotFound, "no volume '{}' in pool {}", volume, dir_);
  if (auto open = FindOpen(volume)) TRY_STATUS(open->Flush());
  return db_->CreateSnapshot(volume, snapshot);
}

Result<std::vector<SnapshotInfo>> Storage::Impl::ListSnapshots(const std::string& volume) {
  std::lock_guard lock(mu_);
  if (!db_->OpenDataset(volume)) return Err(Code::kNotFound, "no volume '{}' in pool {}", volume, dir_);
  auto snapshots = TRY(db_->ListSnapshots(volume));
  TRY_STATUS(FillSnapshotSpaceLocked(volume, snapshots));
  return snapshots;
}

Status Storage::Impl::DeleteSnapshot(const std::string& volume, const std::string& snapshot) {
  auto lock = LockIdle(volume);
  if (!db_->OpenDataset(volume)) return Err(Code::kNotFound, "no volume '{}' in pool {}", volume, dir_);
  auto clones = TRY(ClonesOfLocked(volume, snapshot));
  if (!clones.empty()) {
    return Err(Code::kBusy, "snapshot '{}@{}' has clones that depend on it: {}; flatten or delete them first",
               volume, snapshot, fmt::join(clones, ", "));
  }
  const std::string name = VolumeRef{volume, snapshot}.ToString();
  TRY_STATUS(open_.Finish(name));
  if (open_.InUse(name)) {
    return Err(Code::kBusy, "snapshot '{}@{}' is exported; stop using it first", volume, snapshot);
  }
  TRY_STATUS(db_->DeleteSnapshot(volume, snapshot));
  ForgetIoCounters(name);
  // The rows only this snapshot pinned go now (storage_space.cc note 2),
  // and the blocks only it named (volume_clean.cc note 7).
  auto freed = [&]() -> Status {
    auto live = TRY(OpenVolumeLocked(volume));
    TRY_STATUS(live->Clean(VolumeImpl::CleanMode::kFreeOnly));
    TRY(live->FreeUnnamedExtents());
    return Ok();
  }();
  if (!freed) {
    return Err(freed.error().WithContext(fmt::format(
        "snapshot '{}@{}' was deleted, but freeing its data rows failed (the cleaner retries later)",
        volume, snapshot)));
  }
  return Ok();
}

Result<std::shared_ptr<VolumeImpl>> Storage::Impl::OpenSnapshotLocked(const std::string& volume,
                                                                      const std::string& snapshot) {
  const std::string name = VolumeRef{volume, snapshot}.ToString();
  if (auto open = FindOpen(name)) return open;
  auto dataset = db_->OpenDataset(volume);
  if (!dataset) return Err(Code::kNotFound, "no volume '{}' in pool {}", volume, dir_);
  auto tree = db_->OpenSnapshot(volume, snapshot);
  if (!tree) return Err(tree.error());
  std::string text = TRY(LoadExnodeText((*dataset)->tree()));
  Exnode recorded = TRY(ParseExnode(TRY(LoadExnodeText(**tree))));
  uint64_t size = 0;
  for (const ExnodeSegment& s : recorded.segments) {
    if (s.type == SegmentType::kLog) size = TRY(s.GetU64("size"));
  }
  if (size == 0) return Err(Code::kCorruption, "snapshot '{}' records no log segment", name);
  auto built = TRY(BuildVolume(name, *dataset, text, std::move(*tree), size));
  return open_.Add(name, std::move(built));
}

}  // namespace tessera
