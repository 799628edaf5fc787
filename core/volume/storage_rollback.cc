// Storage: rolling a volume back to a snapshot.
//
// Design notes
//  1. Only the newest snapshot is a target. Rolling back past newer ones
//     would have to delete them (and refuse if clones use them); that is
//     left to the user, explicitly: the error names the newer snapshots.
//  2. Exclusive access comes from the lock manager: every writable open
//     volume holds its resource in kReadSharedWriteExclusive (opened in
//     storage_volumes.cc), and rollback asks for
//     kReadExclusiveWriteExclusive. A volume whose last client just
//     disconnected is closed first, or waited for while it closes. If
//     a writer holds it, rollback refuses (Busy) naming the holder, or with
//     `force` revokes the open
//     volume (VolumeImpl::Revoke: in-flight I/O drains, later I/O fails with
//     IOError, unflushed cached writes are dropped, the lock is released)
//     and asks again. Snapshot exports and clones of this volume read
//     snapshots, which rollback leaves alone, so they stay open.
//  3. The dataset is rolled back in one commit (Database::RollbackDataset):
//     tree root, row counters, exNode (rows and size) and log head all come
//     from the snapshot; rows born after it are freed. Every row the snapshot
//     maps still exists because the cleaner pins them (volume_clean.cc
//     note 5).
//  4. The log head from the snapshot gets a new epoch, above every epoch the
//     volume has used: batches written after the snapshot lie beyond that
//     head, and replay would otherwise take them for valid (LogSegment
//     contract 3). Replay after the rollback finds nothing to apply.
//  5. Crash safety: before the rollback's commit is durable, the pool holds
//     the old volume; after it, the rolled back one. Nothing else is written.
#include <fmt/ranges.h>

#include "core/segment/log_format.h"
#include "core/util/log.h"
#include "core/volume/storage_impl.h"

namespace tessera {
namespace {

std::string Holders(const LockManager& locks, const std::string& resource) {
  std::vector<std::string> names;
  for (const auto& [label, mode] : locks.Holders(resource)) names.push_back(fmt::format("{} [{}]", label, LockModeName(mode)));
  return names.empty() ? "another user" : fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

Status Storage::Impl::RollbackSnapshot(const std::string& volume, const std::string& snapshot, bool force) {
  auto lock = LockIdle(volume);
  auto dataset = db_->OpenDataset(volume);
  if (!dataset) return Err(Code::kNotFound, "no volume '{}' in pool {}", volume, dir_);
  auto snapshots = TRY(db_->ListSnapshots(volume));
  auto it = std::find_if(snapshots.begin(), snapshots.end(), [&](const SnapshotInfo& s) { return s.name == snapshot; });
  if (it == snapshots.end()) return Err(Code::kNotFound, "no snapshot '{}@{}'", volume, snapshot);
  if (it + 1 != snapshots.end()) {
    std::vector<std::string> newer;
    for (auto n = it + 1; n != snapshots.end(); n++) newer.push_back(fmt::format("'{}@{}'", volume, n->name));
    return Err(Code::kInvalidArgument,
               "'{}@{}' is not the newest snapshot of '{}'; delete the newer ones first ({}) and try again",
               volume, snapshot, volume, fmt::join(newer, ", "));
  }

  // Exclusive access (note 2).
  TxnId txn = locks_.BeginTransaction(fmt::format("snapshot rollback of '{}@{}'", volume, snapshot));
  struct EndTxn {
    LockManager& locks;
    TxnId txn;
    ~EndTxn() { locks.EndTransaction(txn); }
  } end_txn{locks_, txn};
  std::string resource = VolumeResource(volume);
  TRY_STATUS(open_.Finish(volume));
  auto locked = locks_.Acquire(txn, resource, LockMode::kReadExclusiveWriteExclusive);
  if (!locked) {
    if (!force) {
      return Err(Code::kBusy,
                 "volume '{}' is open for writing (lock held by {}): an NBD client is connected to it or a "
                 "program uses it; disconnect the clients or use --force to cut them off",
                 volume, Holders(locks_, resource));
    }
    if (auto open = FindOpen(volume)) {
      open->Revoke();
      open_.Forget(volume);
      Log(LogLevel::kWarn, "snapshot rollback of '{}@{}': disconnected the volume's writers", volume, snapshot);
    }
    TRY_STATUS(locks_.Acquire(txn, resource, LockMode::kReadExclusiveWriteExclusive));
  }

  // One commit (notes 3 and 4).
  Tree& live = (*dataset)->tree();
  auto live_value = TRY(live.Get(kLogHeadKey));
  LogHead live_head = live_value ? TRY(DecodeLogHead(*live_value)) : LogHead{};
  TRY_STATUS(db_->RollbackDataset(volume, snapshot, [&](Tree& tree) -> Status {
    auto value = TRY(tree.Get(kLogHeadKey));
    LogHead head = value ? TRY(DecodeLogHead(*value)) : LogHead{};
    head.epoch = std::max(head.epoch, live_head.epoch) + 1;
    return tree.Insert(kLogHeadKey, EncodeLogHead(head));
  }));
  Log(LogLevel::kInfo, "volume '{}': rolled back to snapshot '{}'", volume, snapshot);
  return Ok();
}

}  // namespace tessera
