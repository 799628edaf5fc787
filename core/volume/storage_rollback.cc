// Storage: rolling a volume back to a snapshot.
//
// Design notes
//  1. Any snapshot is a target. Newer ones are kept (as `rbd snap rollback`
//     does: storage_rollback_keep.cc rewrites the live tree to the
//     snapshot's mapping), or deleted first when asked (`destroy_newer`,
//     the CLI's -r, as `zfs rollback -r` does; note 7), after which the
//     target is the newest. Rolling back to the newest snapshot is done
//     here (notes 3 to 6).
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
//  6. A row keeps the blocks it has now. A repair that moved a row's block
//     off a lost vdev (ReplaceLostBlocks, storage_repair.cc) after the
//     snapshot freed the old block and put a new one, born after the
//     snapshot, in the live exNode only; the snapshot's exNode still names
//     the old one. Rolled back as it is, the volume would read a freed
//     block (soon another volume's data or a tree node), and the new block
//     would be freed under the live exNode's clones and exports. So every row
//     of the snapshot's exNode that the live exNode still has takes the live
//     row's blocks (RowsAsNow), and those blocks are kept. Rows the
//     snapshot has all exist still (note 3); their stripes below the
//     snapshot's log head are the same on the new block (the repair rebuilt
//     them, and the log never writes below its head).
//  7. With `destroy_newer`, the newer snapshots are checked first (none
//     has clones or is exported, and the volume's exclusive lock is taken,
//     as note 2 says), then deleted newest first, each in its own commit
//     (Database::DeleteSnapshot), then the rollback runs. A crash or a
//     failure in between leaves some deleted and the volume as it was; the
//     user asked for them to go, and running the rollback again finishes.
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

#include "core/exnode/exnode.h"
#include "core/segment/log_format.h"
#include "core/util/log.h"
#include "core/util/volume_ref.h"
#include "core/volume/storage_impl.h"

namespace tessera {
namespace {

std::string Holders(const LockManager& locks, const std::string& resource) {
  std::vector<std::string> names;
  for (const auto& [label, mode] : locks.Holders(resource)) names.push_back(fmt::format("{} [{}]", label, LockModeName(mode)));
  return names.empty() ? "another user" : fmt::format("{}", fmt::join(names, ", "));
}

struct RolledExnode {
  std::string text;               // the exNode the rolled-back volume gets
  std::vector<DiskAddress> keep;  // live row blocks it takes over (note 6)
};

// Note 6: the snapshot's exNode, with each row the live exNode also has
// holding the live row's blocks.
Result<RolledExnode> RowsAsNow(const std::string& snapshot_text, const std::string& live_text) {
  Exnode out = TRY(ParseExnode(snapshot_text));
  const Exnode live = TRY(ParseExnode(live_text));
  auto is_lun = [](const ExnodeSegment& s) { return s.type == SegmentType::kLun; };
  auto live_lun = std::find_if(live.segments.begin(), live.segments.end(), is_lun);
  auto lun = std::find_if(out.segments.begin(), out.segments.end(), is_lun);
  if (lun == out.segments.end() || live_lun == live.segments.end()) return RolledExnode{.text = snapshot_text};
  std::map<uint64_t, LunRow> live_rows;  // by seg_offset
  for (const std::string& value : live_lun->GetAll("row")) {
    LunRow row = TRY(ParseLunRow(value));
    live_rows[row.seg_offset] = row;
  }
  RolledExnode rolled;
  bool changed = false;
  for (KeyValue& kv : lun->params) {
    if (kv.key != "row") continue;
    LunRow row = TRY(ParseLunRow(kv.value));
    auto it = live_rows.find(row.seg_offset);
    if (it == live_rows.end() || it->second == row) continue;
    if (it->second.devices.size() != row.devices.size()) {
      return Err(Code::kCorruption, "row at {} has {} blocks in the live exNode and {} in the snapshot's",
                 row.seg_offset, it->second.devices.size(), row.devices.size());
    }
    for (size_t p = 0; p < row.devices.size(); p++) {
      if (row.devices[p] == it->second.devices[p]) continue;
      const ExnodeBlock* block = live.FindBlock(it->second.devices[p].block_id);
      auto address = block ? ParseBlockCapability(block->read_cap) : std::nullopt;
      if (!address) {
        return Err(Code::kCorruption, "row at {}: block {} of the live exNode has no disk address",
                   row.seg_offset, it->second.devices[p].block_id);
      }
      if (!out.FindBlock(block->id)) out.blocks.push_back(*block);
      rolled.keep.push_back(*address);
    }
    kv.value = it->second.ToString();
    changed = true;
  }
  if (!changed) return RolledExnode{.text = snapshot_text};
  // Blocks no row names any more (the replaced ones) leave the exNode.
  std::erase_if(out.blocks, [&](const ExnodeBlock& b) {
    for (const std::string& value : lun->GetAll("row")) {
      auto row = ParseLunRow(value);
      if (row && std::any_of(row->devices.begin(), row->devices.end(),
                             [&](const LunRowDevice& d) { return d.block_id == b.id; })) {
        return false;
      }
    }
    return true;
  });
  rolled.text = TRY(SerializeExnode(out));
  return rolled;
}

}  // namespace

Status Storage::Impl::RollbackSnapshot(const std::string& volume, const std::string& snapshot, bool force,
                                       bool destroy_newer) {
  auto lock = LockIdle(volume);
  auto dataset = db_->OpenDataset(volume);
  if (!dataset) return Err(Code::kNotFound, "no volume '{}' in pool {}", volume, dir_);
  auto snapshots = TRY(db_->ListSnapshots(volume));
  auto it = std::find_if(snapshots.begin(), snapshots.end(), [&](const SnapshotInfo& s) { return s.name == snapshot; });
  if (it == snapshots.end()) return Err(Code::kNotFound, "no snapshot '{}@{}'", volume, snapshot);
  std::vector<std::string> newer;  // note 7
  if (destroy_newer) {
    for (auto n = it + 1; n != snapshots.end(); n++) newer.push_back(n->name);
  }
  const bool keep_newer = it + 1 != snapshots.end() && !destroy_newer;  // note 1
  for (const std::string& n : newer) {
    const std::string name = VolumeRef{volume, n}.ToString();
    auto clones = TRY(ClonesOfLocked(volume, n));
    if (!clones.empty()) {
      return Err(Code::kBusy, "rolling back '{}@{}' would delete '{}', which clones depend on: {}", volume,
                 snapshot, name, fmt::join(clones, ", "));
    }
    TRY_STATUS(open_.Finish(name));
    if (open_.InUse(name)) {
      return Err(Code::kBusy, "rolling back '{}@{}' would delete '{}', which is exported; stop using it first",
                 volume, snapshot, name);
    }
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

  if (keep_newer) {
    TRY_STATUS(RollbackKeepingNewerLocked(volume, snapshot, *dataset));
    Log(LogLevel::kInfo, "volume '{}': rolled back to snapshot '{}', newer snapshots kept", volume, snapshot);
    return Ok();
  }

  // Note 7: every check passed; the newer snapshots go, newest first.
  for (auto n = newer.rbegin(); n != newer.rend(); n++) {
    TRY_STATUS(db_->DeleteSnapshot(volume, *n));
    ForgetIoCounters(VolumeRef{volume, *n}.ToString());
    Log(LogLevel::kInfo, "snapshot '{}@{}' deleted by the rollback to '{}'", volume, *n, snapshot);
  }

  // One commit (notes 3, 4 and 6).
  Tree& live = (*dataset)->tree();
  auto live_value = TRY(live.Get(kLogHeadKey));
  LogHead live_head = live_value ? TRY(DecodeLogHead(*live_value)) : LogHead{};
  std::string snapshot_text;
  {
    auto snapshot_tree = TRY(db_->OpenSnapshot(volume, snapshot));
    snapshot_text = TRY(LoadExnodeText(*snapshot_tree));
  }
  RolledExnode rolled = TRY(RowsAsNow(snapshot_text, TRY(LoadExnodeText(live))));
  TRY_STATUS(db_->RollbackDataset(volume, snapshot, rolled.keep, [&](Tree& tree) -> Status {
    auto value = TRY(tree.Get(kLogHeadKey));
    LogHead head = value ? TRY(DecodeLogHead(*value)) : LogHead{};
    head.epoch = std::max(head.epoch, live_head.epoch) + 1;
    TRY_STATUS(tree.Insert(kLogHeadKey, EncodeLogHead(head)));
    return rolled.text == snapshot_text ? Ok() : StoreExnodeText(tree, rolled.text);
  }));
  Log(LogLevel::kInfo, "volume '{}': rolled back to snapshot '{}'", volume, snapshot);
  return Ok();
}

}  // namespace tessera
