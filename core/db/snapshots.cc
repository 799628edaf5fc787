// Dataset snapshots and dead lists.
//
// Design notes (ZFS-style dead lists, keyed by birth generation)
//  1. A snapshot at txg T pins the dataset's root as committed in T; every
//     node with birth <= T may be shared with it.
//  2. When the live tree drops a node born after the newest snapshot, no
//     snapshot can reference it and it is freed; otherwise it goes on the
//     live dead list (owner kLiveOwner) - DatasetNodeStore::Free.
//  3. Creating snapshot T renames the live dead list to owner T: dead list T
//     holds the nodes dropped between the previous snapshot and T.
//  4. Deleting snapshot S (previous P at txg p or none: p = 0; next N, a
//     snapshot or the live tree): an entry of dead list N born after p was
//     referenced only by S, so it is freed; the others stay on N. Dead list S
//     moves to N (its nodes are still pinned by P). Freeing an entry frees
//     both copies of its node.
//  5. Both operations commit before returning, so a snapshot either exists
//     whole or not at all after a crash.
#include <ctime>
#include <random>

#include "core/db/database.h"
#include "core/db/root_scan.h"

namespace tessera {

Result<std::vector<SnapshotRecord>> Database::SnapshotsOf(uint64_t dataset_id) {
  return SnapshotsIn(*root_tree_, dataset_id);
}

Result<std::vector<SnapshotRecord>> Database::SnapshotsIn(Tree& root, uint64_t dataset_id) {
  std::vector<SnapshotRecord> out;
  TRY_STATUS(ScanRecords(
      root, SnapshotPrefix(dataset_id), DecodeSnapshotRecord, OnUndecodable::Stop(),
      [&](std::string_view, SnapshotRecord record) { out.push_back(std::move(record)); }));
  return out;  // ascending txg: keys are big-endian
}

Status Database::MoveDeadList(uint64_t dataset_id, uint64_t from_owner, uint64_t to_owner) {
  std::string prefix = DeadPrefix(dataset_id, from_owner);
  std::vector<std::pair<std::string, std::string>> entries;
  TRY_STATUS(root_tree_->Scan(prefix, PrefixEnd(prefix), [&](std::string_view k, std::string_view v) {
    entries.emplace_back(std::string(k), std::string(v));
    return true;
  }));
  for (auto& [key, value] : entries) {
    uint64_t address = ReadBigEndian(std::string_view(key).substr(prefix.size()));
    TRY_STATUS(root_tree_->Insert(DeadKey(dataset_id, to_owner, address), value));
  }
  if (!entries.empty()) TRY_STATUS(root_tree_->RangeDelete(prefix, PrefixEnd(prefix)));
  return Ok();
}

Status Database::CreateSnapshot(std::string_view dataset, std::string_view snapshot, uint64_t guid) {
  auto scope = LockToCommit();
  TRY_STATUS(FailIfBroken());
  if (snapshot.empty() || snapshot.size() > 255 || snapshot.find_first_of("@/") != std::string_view::npos) {
    return Err(Code::kInvalidArgument, "snapshot name '{}' must be 1 to 255 bytes without '@' or '/'",
               snapshot);
  }
  Dataset* ds = TRY(OpenDatasetLocked(dataset));
  for (const auto& s : TRY(SnapshotsOf(ds->id()))) {
    if (s.name == snapshot) {
      return Err(Code::kInvalidArgument, "snapshot '{}@{}' already exists", dataset, snapshot);
    }
  }
  while (guid == 0) guid = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  uint64_t txg = TRY(CommitLocked(/*force=*/true));
  SnapshotRecord record{.name = std::string(snapshot),
                        .txg = txg,
                        .created_unix = static_cast<uint64_t>(std::time(nullptr)),
                        .root = ds->record_.root,
                        .guid = guid};
  TRY_STATUS(root_tree_->Insert(SnapshotKey(ds->id(), txg), EncodeSnapshotRecord(record)));
  TRY_STATUS(MoveDeadList(ds->id(), kLiveOwner, txg));
  ds->record_.latest_snapshot_txg = txg;
  ds->store_->set_latest_snapshot_txg(txg);
  TRY_STATUS(root_tree_->Insert(DatasetKey(ds->name_), EncodeDatasetRecord(ds->record_)));
  TRY(CommitLocked());
  return Ok();
}

Result<std::vector<SnapshotInfo>> Database::ListSnapshots(std::string_view dataset) {
  std::lock_guard lock(mu_);
  Dataset* ds = TRY(OpenDatasetLocked(dataset));
  std::vector<SnapshotInfo> out;
  for (const auto& s : TRY(SnapshotsOf(ds->id()))) {
    out.push_back(SnapshotInfo{
        .name = s.name, .txg = s.txg, .created_unix = s.created_unix, .root = s.root, .guid = s.guid});
  }
  return out;
}

Status Database::DeleteSnapshot(std::string_view dataset, std::string_view snapshot) {
  auto scope = LockToCommit();
  TRY_STATUS(FailIfBroken());
  Dataset* ds = TRY(OpenDatasetLocked(dataset));
  for (const auto& s : TRY(SnapshotsOf(ds->id()))) {
    if (s.name == snapshot) {
      TRY_STATUS(DeleteSnapshotLocked(ds, s));
      TRY(CommitLocked());
      return Ok();
    }
  }
  return Err(Code::kNotFound, "no snapshot '{}@{}'", dataset, snapshot);
}

Status Database::DeleteSnapshotLocked(Dataset* ds, const SnapshotRecord& snapshot) {
  auto all = TRY(SnapshotsOf(ds->id()));
  uint64_t prev_txg = 0;
  uint64_t next_owner = kLiveOwner;
  for (size_t i = 0; i < all.size(); i++) {
    if (all[i].txg != snapshot.txg) continue;
    if (i > 0) prev_txg = all[i - 1].txg;
    if (i + 1 < all.size()) next_owner = all[i + 1].txg;
  }
  // Dead list of the next owner: free what only this snapshot still held.
  std::vector<std::pair<uint64_t, DeadEntry>> next_entries;  // (address, entry)
  TRY_STATUS(ScanRecords(*root_tree_, DeadPrefix(ds->id(), next_owner), DecodeDeadEntry,
                         OnUndecodable::Stop(),
                         [&](std::string_view address, const DeadEntry& entry) {
                           next_entries.emplace_back(ReadBigEndian(address), entry);
                         }));
  for (auto& [address, entry] : next_entries) {
    if (entry.birth <= prev_txg) continue;
    for (uint64_t copy : entry.CopyAddresses(address)) {
      TRY_STATUS(allocator_->Free(DiskAddress{copy}, BlockCount{entry.blocks}));
    }
    TRY_STATUS(root_tree_->Delete(DeadKey(ds->id(), next_owner, address)));
  }
  TRY_STATUS(MoveDeadList(ds->id(), snapshot.txg, next_owner));
  TRY_STATUS(root_tree_->Delete(SnapshotKey(ds->id(), snapshot.txg)));
  if (ds->record_.latest_snapshot_txg == snapshot.txg) {
    ds->record_.latest_snapshot_txg = prev_txg;
    ds->store_->set_latest_snapshot_txg(prev_txg);
    TRY_STATUS(root_tree_->Insert(DatasetKey(ds->name_), EncodeDatasetRecord(ds->record_)));
  }
  return Ok();
}

Result<std::unique_ptr<Tree>> Database::OpenSnapshot(std::string_view dataset, std::string_view snapshot) {
  std::lock_guard lock(mu_);
  Dataset* ds = TRY(OpenDatasetLocked(dataset));
  for (const auto& s : TRY(SnapshotsOf(ds->id()))) {
    if (s.name != snapshot) continue;
    TreeOptions options = options_.tree;
    options.read_only = true;
    // Counted while open: a scrub does not move this snapshot's nodes
    // (snapshot_recopy.cc, design note 5).
    auto& readers = snapshot_readers_[ds->id()];
    if (!readers) readers = std::make_shared<const int>(0);
    options.holder = readers;
    return Tree::Open(read_store_.get(), &cache_, &actions_, options, s.root);
  }
  return Err(Code::kNotFound, "no snapshot '{}@{}'", dataset, snapshot);
}

}  // namespace tessera
