// Storage: clones of volume snapshots, and flattening them.
//
// Design notes
//  1. A clone is an ordinary volume (its own dataset, data rows and cache)
//     whose log has a base: the origin snapshot's read-only export
//     ("VOL@SNAP", storage_snapshots.cc). The log section of the clone's
//     exNode records it as `base = VOL@SNAP`; opening the clone opens that
//     export again (AttachBaseLocked), so the dependency survives restarts.
//     Creating one copies no data and commits once: after a crash the clone
//     exists whole, with its base, or not at all.
//  2. Isolation: the clone writes only into its own log and tree; the base
//     reads the origin through the snapshot's tree, which nothing changes;
//     the origin's cleaner keeps every row the snapshot maps (volume_clean.cc
//     note 5). So neither side ever sees the other's writes.
//  3. Dependencies are found by reading the `base` key of every volume's
//     exNode (ClonesOfLocked): a snapshot with clones cannot be deleted, nor
//     the volume that holds it.
//  4. Flatten runs in steps (FlattenVolume), so the CLI can show progress over
//     the control socket while the server keeps serving the clone: each step
//     adopts the blocks of one range (LogSegment::AdoptBase); the last step,
//     holding the storage mutex so that no rollback or snapshot can run in
//     between, adopts whatever is still left, checks that no block reads
//     from the origin, detaches the base, saves the exNode and commits. That
//     commit is the switch: before it the clone reads the origin's blocks
//     through the base or its own copies (equal data), after it only its own.
//  5. A clone with snapshots is not flattened: those snapshots read from the
//     same origin through the clone's exNode (Busy, naming them).
#include <fmt/ranges.h>

#include "core/exnode/exnode.h"
#include "core/util/align.h"
#include "core/util/log.h"
#include "core/util/volume_ref.h"
#include "core/volume/storage_impl.h"

namespace tessera {

Status Storage::Impl::AttachBaseLocked(LogSegment& log, const std::string& base_name) {
  auto ref = ParseSnapshotRef(base_name);
  if (!ref) return Err(Code::kCorruption, "exNode names '{}' as a clone's base; expected VOLUME@SNAPSHOT", base_name);
  auto base = OpenSnapshotLocked(ref->volume, ref->snapshot);
  if (!base) return Err(base.error().WithContext(fmt::format("opening the origin '{}' of a clone", base_name)));
  std::shared_ptr<VolumeImpl> origin = *base;
  log.SetBase(std::shared_ptr<Segment>(origin, &origin->log()), base_name);
  return Ok();
}

Result<std::vector<std::string>> Storage::Impl::ClonesOfLocked(const std::string& volume,
                                                               const std::string& snapshot) {
  std::vector<std::string> out;
  for (const DatasetInfo& d : TRY(db_->ListDatasets())) {
    Dataset* dataset = TRY(db_->OpenDataset(d.name));
    Exnode exnode = TRY(ParseExnode(TRY(LoadExnodeText(dataset->tree()))));
    for (const ExnodeSegment& s : exnode.segments) {
      if (s.type != SegmentType::kLog) continue;
      auto base = s.GetString("base");
      if (!base) continue;
      auto ref = ParseSnapshotRef(*base);
      bool match = ref && ref->volume == volume && (snapshot.empty() || ref->snapshot == snapshot);
      if (match) out.push_back(fmt::format("'{}' (of {})", d.name, *base));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<VolumeInfo> Storage::Impl::CloneSnapshot(const std::string& volume, const std::string& snapshot,
                                                const std::string& clone) {
  std::lock_guard lock(mu_);
  if (!db_->OpenDataset(volume)) return Err(Code::kNotFound, "no volume '{}' in pool {}", volume, dir_);
  if (db_->OpenDataset(clone)) return Err(Code::kInvalidArgument, "volume '{}' already exists", clone);
  VolumeInfo origin = TRY(InfoLocked(volume));
  auto base = TRY(OpenSnapshotLocked(volume, snapshot));
  VolumeSpec spec{.name = clone, .size = base->size(), .layout = origin.layout};
  spec.tier = ParseTier(origin.tier);
  spec.spread = origin.spread;
  auto info = TRY(CreateVolumeLocked(spec, base, VolumeRef{volume, snapshot}.ToString()));
  Log(LogLevel::kInfo, "volume '{}': cloned from '{}@{}'", clone, volume, snapshot);
  return info;
}

Result<FlattenProgress> Storage::Impl::FlattenVolume(const std::string& name, uint64_t offset,
                                                     uint64_t max_bytes) {
  auto lock = LockIdle(name);
  TRY_STATUS(RefuseSnapshotName(name, "volume flatten"));
  if (max_bytes == 0 || !IsAligned(offset, kBlockSize)) {
    return Err(Code::kInvalidArgument, "flatten step at {} of {} bytes: the offset must be 4 KiB-aligned and "
               "the step non-empty", offset, max_bytes);
  }
  auto volume = TRY(OpenVolumeLocked(name));
  LogSegment& log = volume->log();
  std::string origin = log.base_name();
  if (origin.empty()) return Err(Code::kInvalidArgument, "volume '{}' is not a clone (it has no origin)", name);
  auto snapshots = TRY(db_->ListSnapshots(name));
  if (!snapshots.empty()) {
    std::vector<std::string> names;
    for (const SnapshotInfo& s : snapshots) names.push_back(fmt::format("'{}@{}'", name, s.name));
    return Err(Code::kBusy, "volume '{}' has snapshots that still read from its origin '{}' ({}); delete them "
               "before flattening", name, origin, fmt::join(names, ", "));
  }
  FlattenProgress progress;
  progress.size = std::min(volume->size(), log.base()->Size());
  if (offset < progress.size) {
    uint64_t n = std::min(max_bytes, progress.size - offset);
    n = std::max<uint64_t>(AlignDown(n, kBlockSize), kBlockSize);
    progress.copied_bytes = TRY(log.AdoptBase(offset / kBlockSize, n / kBlockSize)) * kBlockSize;
    progress.offset = offset + n;
    return progress;
  }
  // The last step (note 4).
  progress.copied_bytes = TRY(log.AdoptBase(0, progress.size / kBlockSize)) * kBlockSize;
  uint64_t left = TRY(log.BlocksReadFromBase());
  if (left != 0) {
    return Err(Code::kIOError, "volume '{}': {} blocks still read from '{}' after copying; flatten again", name,
               left, origin);
  }
  TRY_STATUS(volume->Flush());
  log.DetachBase();
  TRY_STATUS(volume->SaveExnode());
  TRY_STATUS(CommitAll());
  Log(LogLevel::kInfo, "volume '{}': flattened; it no longer depends on '{}'", name, origin);
  progress.offset = progress.size;
  progress.done = true;
  return progress;
}

}  // namespace tessera
