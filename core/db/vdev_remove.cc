// Database::EvacuateMetadata and Database::RemoveVdev: the database's part
// of vdev remove (database.h contract 10). The data rows leave first
// (core/volume/storage_vdev_remove.cc); these move the tree nodes and then
// take the vdev out.
//
// Design notes
//  1. The vdev is draining (slot_vdev.h) before either runs, so no node
//     written anew lands on it again: the allocator leaves it out.
//  2. A node with a copy on the vdev is written anew with all its copies
//     elsewhere, as the scrub's recopy writes nodes below the count
//     (snapshot_recopy.cc): live trees first, then snapshot trees, whose
//     old nodes leave the dead lists for the new ones. The old copies that
//     open snapshot trees still read (a served VOL@SNAP, a clone's base)
//     stay held until those trees close (design note 5 there); until then
//     RemoveVdev finds them quarantined on the vdev and is Busy, saying so.
//  3. RemoveVdev trusts no list of what refers to the vdev: the allocator
//     is the record of every block in use, so the vdev goes only when it
//     has nothing allocated but its reserved blocks and nothing waiting in
//     quarantine. Then the pool empties the slot for good and a forced
//     commit writes the superblock to the vdevs that hold it from now on.
//     The caller writes pool.conf after that commit: a crash before it
//     opens the vdev again, empty and still usable, and remove finishes at
//     once when run again.
#include <algorithm>

#include "core/alloc/allocator.h"
#include "core/db/database.h"
#include "core/db/root_scan.h"
#include "core/util/log.h"

namespace tessera {
namespace {

bool HasCopyOn(const BlockPtr& ptr, const PoolVdev& vdev) {
  for (uint64_t address : ptr.CopyAddresses()) {
    DiskAddress a{address};
    if (a.tier() == vdev.config.tier && a.vdev() == vdev.config.index) return true;
  }
  return false;
}

// The vdev `name`, which must be draining (contract 10).
Result<const PoolVdev*> DrainingVdev(const Pool& pool, const std::string& name) {
  const PoolVdev* vdev = pool.FindByName(name);
  if (vdev == nullptr) return Err(Code::kNotFound, "no vdev '{}' in the pool", name);
  if (!vdev->device->draining()) return Err(Code::kInvalidArgument, "vdev '{}' is not being removed", name);
  return vdev;
}

}  // namespace

Result<uint64_t> Database::EvacuateMetadata(const std::string& name) {
  auto scope = LockToCommit();
  TRY_STATUS(FailIfBroken());
  const PoolVdev* vdev = TRY(DrainingVdev(*pool_, name));
  auto on_vdev = [&](const BlockPtr& ptr) { return HasCopyOn(ptr, *vdev); };
  // Note 2: the root tree and the live trees first, in one commit.
  uint64_t moved = 0;
  auto counted = [&](const BlockPtr& ptr) {
    if (!on_vdev(ptr)) return false;
    moved++;
    return true;
  };
  std::vector<std::string> problems;
  TRY_STATUS(root_tree_->RewriteNodes(counted));
  for (const auto& [dataset, record] : TRY(DatasetRecordsIn(*root_tree_, &problems))) {
    Dataset* ds = TRY(OpenDatasetLocked(dataset));
    TRY_STATUS(ds->tree().RewriteNodes(counted));
  }
  if (!problems.empty()) return Err(Code::kCorruption, "root tree record: {}", problems.front());
  if (moved > 0) TRY(CommitLocked());
  // Then the snapshot trees that have a node there, and only those: a
  // dataset whose snapshot trees hold none is not Busy for an open one.
  std::set<std::string> datasets;
  TreeOptions read_only = options_.tree;
  read_only.read_only = true;
  for (const TreeRoot& r : TRY(TreeRootsIn(*root_tree_, &problems))) {
    if (!r.snapshot || datasets.contains(r.dataset)) continue;
    auto tree = Tree::Open(read_store_.get(), &cache_, &actions_, read_only, r.root);
    if (!tree) return Err(tree.error().WithContext(r.what));
    TRY_STATUS((*tree)->ForEachNode([&](const BlockPtr& ptr, uint32_t) -> Status {
      if (on_vdev(ptr)) datasets.insert(r.dataset);
      return Ok();
    }));
  }
  if (!datasets.empty()) {
    std::set<uint64_t> rewritten;
    MetadataScrubReport report;
    TRY_STATUS(RewriteNodesWhereLocked(on_vdev, /*root_tree=*/false, datasets, &rewritten, &report));
    if (!report.errors.empty()) {
      return Err(Code::kBusy, "vdev '{}': snapshot tree nodes still on it: {}", name, report.errors.front());
    }
    moved += rewritten.size();
  }
  if (moved > 0) Log(LogLevel::kInfo, "vdev '{}': {} tree nodes written anew on other vdevs", name, moved);
  return moved;
}

Status Database::RemoveVdev(const std::string& name) {
  auto scope = LockToCommit();
  TRY_STATUS(FailIfBroken());
  const PoolVdev* vdev = TRY(DrainingVdev(*pool_, name));
  // Note 3: only the reserved blocks (labels, superblock slots) may remain.
  uint64_t in_use = 0;
  std::string first;
  allocator_->ForEachAllocatedRun([&](DiskAddress at, uint64_t count) {
    if (at.tier() != vdev->config.tier || at.vdev() != vdev->config.index) return;
    const uint64_t begin = std::max(at.block(), vdev->first);
    const uint64_t end = std::min(at.block() + count, vdev->end);
    if (begin >= end) return;
    if (in_use == 0) first = DiskAddress::Make(at.tier(), at.vdev(), begin).ToString();
    in_use += end - begin;
  });
  SpaceUsage usage = allocator_->UsageOfVdev(vdev->config.tier, vdev->config.index);
  if (in_use == 0 && usage.quarantined_blocks > 0) {  // freed by the last step: a commit releases them
    TRY(CommitLocked(/*force=*/true));
    usage = allocator_->UsageOfVdev(vdev->config.tier, vdev->config.index);
  }
  if (in_use > 0 || usage.quarantined_blocks > 0) {
    const bool held = allocator_->HeldBlocksOn(vdev->config.tier, vdev->config.index) > 0;  // note 2
    return Err(Code::kBusy, "vdev '{}' still holds {} blocks in use{}{} (the first at {}); run vdev remove again{}",
               name, in_use, usage.quarantined_blocks > 0 ? " and freed blocks not yet committed: " : "",
               usage.quarantined_blocks > 0 ? std::to_string(usage.quarantined_blocks) : "",
               first.empty() ? "-" : first,
               held ? " once the snapshot trees open now (a served VOL@SNAP, a clone's base) are closed: they "
                      "still read old copies there"
                    : "");
  }
  TRY_STATUS(pool_->Remove(name));
  io_->set_copies(MetadataIo::CopiesFor(*pool_, options_.metadata_tiers, copies_setting_.load()));
  auto committed = CommitLocked(/*force=*/true);
  if (!committed) {
    // The slot is empty already: the next open (pool.conf still lists the
    // vdev) decides from the disks.
    failed_ = committed.error();
    return Err(committed.error());
  }
  Log(LogLevel::kInfo, "vdev '{}' removed: nothing on it is in use", name);
  return Ok();
}

}  // namespace tessera
