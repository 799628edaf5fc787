// Rolling a dataset back to its newest snapshot, and editing its live tree
// in one commit (for an older one).
//
// Design notes
//  1. Only the newest snapshot S can be the target: then every live node born
//     after S is referenced by the live tree alone, and every node on the
//     live dead list was dropped since S and is held by S (snapshots.cc,
//     notes 2 and 3).
//  2. The steps, all under mu_: commit (every live node is on disk, the
//     store's pending dead entries are flushed); free the live tree through
//     its store (born after S: freed; older: a dead entry, discarded, since
//     the rolled-back tree holds it again); empty the live dead list; free
//     the data extents born after S (they are in no exNode S knows), but those
//     the caller keeps (row blocks that replaced one of S's since; its edit
//     puts them into S's exNode); open the live tree on S's root; let the
//     caller edit it; commit.
//  3. The second commit is the only one that changes what is durable: a
//     crash before its superblock leaves the old state, after it the rolled
//     back one. Blocks freed here are quarantined until that commit is
//     durable (allocator contract), so the old state stays intact.
//  4. An older snapshot, with the newer ones kept, is not rolled back here:
//     the live tree cannot take its root, because its nodes are on the dead
//     lists of the newer snapshots (dropped since), and deleting one of
//     those would free nodes the live tree holds again. The volume layer
//     rewrites the live tree's keys to the snapshot's values instead
//     (EditDataset): an ordinary change, after which every node the live
//     tree holds is still one it never dropped (notes 1 to 4 of
//     snapshots.cc hold as for any write).
#include <algorithm>

#include "core/db/database.h"

namespace tessera {

Status Database::RollbackDataset(std::string_view dataset, std::string_view snapshot,
                                 const std::vector<DiskAddress>& keep, const std::function<Status(Tree&)>& edit) {
  auto scope = LockToCommit();
  TRY_STATUS(FailIfBroken());
  Dataset* ds = TRY(OpenDatasetLocked(dataset));
  auto all = TRY(SnapshotsOf(ds->id()));
  auto it = std::find_if(all.begin(), all.end(), [&](const SnapshotRecord& s) { return s.name == snapshot; });
  if (it == all.end()) return Err(Code::kNotFound, "no snapshot '{}@{}'", dataset, snapshot);
  if (it + 1 != all.end()) {
    std::string newer;
    for (auto n = it + 1; n != all.end(); n++) newer += fmt::format("{}'{}@{}'", newer.empty() ? "" : ", ", dataset, n->name);
    return Err(Code::kInvalidArgument, "'{}@{}' is not the newest snapshot; newer: {}", dataset, snapshot, newer);
  }
  const SnapshotRecord target = *it;
  TRY(CommitLocked());
  // From here on a failure leaves memory out of step with the disk (which
  // still holds the old state): the database fails until reopened, as after
  // a failed commit (contract 3).
  auto rolled = [&]() -> Status {
    TRY_STATUS(ds->tree_->FreeAll());
    if (auto error = ds->store_->TakeFreeError()) return Err(*error);
    (void)ds->store_->TakeDead();  // held by the snapshot, and by the rolled-back tree again
    std::string live = DeadPrefix(ds->id(), kLiveOwner);
    TRY_STATUS(root_tree_->RangeDelete(live, PrefixEnd(live)));
    for (const Extent& e : TRY(ExtentsOfLocked(ds->id()))) {
      if (e.birth <= target.txg) continue;
      if (std::any_of(keep.begin(), keep.end(), [&](DiskAddress k) { return k.raw == e.address.raw; })) continue;
      TRY_STATUS(allocator_->Free(e.address, BlockCount{e.blocks}));
      TRY_STATUS(root_tree_->Delete(ExtentKey(ds->id(), e.address.raw)));
    }
    ds->record_.root = target.root;
    TRY_STATUS(root_tree_->Insert(DatasetKey(ds->name_), EncodeDatasetRecord(ds->record_)));
    ds->tree_ = TRY(Tree::Open(ds->store_.get(), &cache_, &actions_, options_.tree, target.root));
    if (edit) TRY_STATUS(edit(*ds->tree_));
    TRY(CommitLocked(/*force=*/true));
    return Ok();
  }();
  if (!rolled && !failed_) failed_ = rolled.error();
  TRY_STATUS(rolled);
  return Ok();
}

Status Database::EditDataset(std::string_view dataset, const std::function<Status(Tree&)>& edit) {
  auto scope = LockToCommit();
  TRY_STATUS(FailIfBroken());
  Dataset* ds = TRY(OpenDatasetLocked(dataset));
  auto edited = [&]() -> Status {
    TRY_STATUS(edit(*ds->tree_));
    TRY(CommitLocked(/*force=*/true));
    return Ok();
  }();
  if (!edited && !failed_) failed_ = edited.error();
  return edited;
}

}  // namespace tessera
