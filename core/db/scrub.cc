// Database::ScrubMetadata: verify every copy of every reachable tree node and
// repair bad copies from good ones.
//
// Design notes
//  1. The trees walked are those of the last commit when the scrub starts:
//     its root tree, and every dataset and snapshot root recorded in it. The
//     commit lock is held only to pin that commit (walk_pin.cc); the walk
//     runs without it, and no node it names can be reused meanwhile, so
//     every pointer stays valid while commits go on (walk_pin.cc, note 3).
//     Nodes that later commits write are the next scrub's.
//  2. Tree::ForEachNode enumerates the pointers (reading nodes through the
//     cache, or through the store's verified read when not cached); each
//     pointer is then handed to MetadataIo::ScrubNode, which reads every copy
//     from disk, so a cached node is still checked on disk.
//  3. A node shared by several trees (snapshots) is checked once (by address).
//  4. `repaired` is the growth of the database's repair counter during the
//     scrub: it includes a bad first copy repaired by the walk's own read of
//     a node (before ScrubNode sees it), and repairs by concurrent readers.
//  5. A node none of whose copies verifies is unrecoverable. If the walk
//     itself cannot read it, the rest of that tree below it is not reachable;
//     that is reported once per tree and the scrub goes on with the next.
//  6. Superblocks, after the walk, under the commit lock: the slot of the
//     current txg (which may be newer than the walked one) on every
//     SuperblockVdevs() vdev must hold exactly the superblock last written
//     (or recovered); where it does not, it is rewritten and that vdev
//     flushed. Safe under the commit lock: no commit writes a slot
//     meanwhile, and the slot holds txg N or its stale predecessor N-2,
//     never the previous txg N-1.
//  7. Repairs of bad copies run without the lock too (walk_pin.cc, note 5).
//  8. Nodes with fewer copies than the pool keeps (counted by the walk) are
//     written anew with every copy, snapshots included, under the commit
//     lock (snapshot_recopy.cc), unless some node could not be read (that
//     repair would stop at it). Only the trees that hold some are visited
//     again: the root tree, and the datasets whose live or snapshot trees
//     the walk found them in (nodes are never shared across datasets). `under_replicated` counts those left below
//     it (too few metadata vdevs online, a failure), `recopied` those
//     brought up.
#include <cstring>
#include <set>

#include "core/db/database.h"
#include "core/util/aligned_buffer.h"
#include "core/util/volume_ref.h"

namespace tessera {

std::string MetadataScrubReport::Summary() const {
  return fmt::format(
      "{} nodes checked ({} copies, {} nodes with one copy, {} with fewer than the pool keeps, {} written "
      "anew with every copy), {} copies repaired, {} unrecoverable, {} copies unavailable; {} superblocks "
      "checked, {} rewritten",
      checked, copies_checked, single_copy, under_replicated, recopied, repaired, unrecoverable, unavailable,
      superblocks_checked, superblocks_repaired);
}

Result<std::vector<Database::TreeRoot>> Database::TreeRootsIn(Tree& root, std::vector<std::string>* problems) {
  std::vector<TreeRoot> out;
  for (const auto& [name, record] : TRY(DatasetRecordsIn(root, problems))) {
    if (!record.root.IsNull()) out.push_back({"dataset " + name, name, record.root});
    for (const auto& s : TRY(SnapshotsIn(root, record.id))) {
      if (!s.root.IsNull()) out.push_back({VolumeRef{name, s.name}.ToString(), name, s.root, /*snapshot=*/true});
    }
  }
  return out;
}

Result<MetadataScrubReport> Database::ScrubMetadata(const ScrubProgressFn& progress) {
  auto pinned = [&]() -> Result<PinnedCommit> {
    std::lock_guard lock(mu_);
    TRY_STATUS(FailIfBroken());
    return PinLastCommitLocked();
  }();
  if (!pinned) return Err(pinned.error());
  MetadataScrubReport report;
  const uint64_t repaired_before = io_->stats().repaired;
  auto update_repaired = [&] { report.repaired = io_->stats().repaired - repaired_before; };
  auto report_progress = [&](std::string_view what) {
    if (!progress) return;
    update_repaired();
    progress(report, what);
  };
  std::set<uint64_t> seen;
  std::set<uint64_t> thin;  // nodes below the pool's copies
  bool thin_root = false;    // some in the root tree
  std::set<std::string> thin_datasets;  // some in a tree of these datasets
  // `dataset` is empty for the root tree.
  auto scrub_tree = [&](Tree& tree, const std::string& what, const std::string& dataset) {
    auto walked = tree.ForEachNode([&](const BlockPtr& ptr, uint32_t) -> Status {
      if (!seen.insert(ptr.address).second) return Ok();
      NodeScrub node = io_->ScrubNode(ptr);
      report.checked++;
      report.copies_checked += node.copies_checked;
      report.unavailable += node.unavailable;
      if (!ptr.HasCopy()) report.single_copy++;
      if (ptr.CopyCount() < io_->copies()) {
        thin.insert(ptr.address);
        if (dataset.empty()) thin_root = true;
        else thin_datasets.insert(dataset);
      }
      if (!node.recoverable) {
        report.unrecoverable++;
        report.errors.push_back(fmt::format("{}: no copy of the node at {} verifies", what,
                                            DiskAddress{ptr.address}.ToString()));
      }
      if (report.checked % 256 == 0) report_progress(what);
      return Ok();
    });
    if (!walked) {
      report.unrecoverable++;
      report.errors.push_back(fmt::format("{}: walk stopped: {}", what, walked.error().ToString()));
    }
    report_progress(what);
  };

  scrub_tree(*pinned->root, "root tree", "");
  std::vector<std::string> problems;
  auto roots = TRY(TreeRootsIn(*pinned->root, &problems));
  for (auto& p : problems) {
    report.unrecoverable++;
    report.errors.push_back("root tree record: " + p);
  }
  TreeOptions read_only = options_.tree;
  read_only.read_only = true;
  for (const TreeRoot& r : roots) {
    auto tree = Tree::Open(read_store_.get(), &cache_, &actions_, read_only, r.root);
    if (!tree) {
      report.unrecoverable++;
      report.errors.push_back(fmt::format("{}: {}", r.what, tree.error().ToString()));
      continue;
    }
    scrub_tree(**tree, r.what, r.dataset);
  }
  {
    std::lock_guard lock(mu_);
    TRY_STATUS(ScrubSuperblocksLocked(&report));
  }
  if (!thin.empty() && report.unrecoverable > 0) {
    report.under_replicated = thin.size();
    report.errors.push_back("nodes with fewer copies than the pool keeps are written anew only when every node reads");
  } else if (!thin.empty()) {  // design note 8
    std::set<uint64_t> rewritten;
    {
      auto scope = LockToCommit();
      auto recopied = RecopyThinNodesLocked(thin_root, thin_datasets, &rewritten, &report);
      if (!recopied) {
        report.errors.push_back("writing nodes anew with the pool's copies: " + recopied.error().ToString());
      }
    }
    report.recopied = rewritten.size();
    for (uint64_t address : thin) report.under_replicated += !rewritten.contains(address);
    if (progress) progress(report, "copies");
  }
  update_repaired();
  if (progress) progress(report, "superblocks");
  return report;
}

Status Database::ScrubSuperblocksLocked(MetadataScrubReport* report) {
  AlignedBuffer want(kBlockSize), got(kBlockSize);
  EncodeSuperblock(superblock_, want.span());
  const BlockNo slot{kSuperblockSlot0 + superblock_.txg % 2};
  for (const PoolVdev* v : SuperblockVdevs()) {
    report->superblocks_checked++;
    auto read = v->device->Read(slot, got.span());
    if (read && std::memcmp(got.data(), want.data(), kBlockSize) == 0) continue;
    auto fixed = v->device->Write(slot, want.span());
    if (fixed) fixed = v->device->Flush();
    if (!fixed) {
      report->errors.push_back(fmt::format("superblock of txg {} on vdev '{}' could not be rewritten: {}",
                                           superblock_.txg, v->config.name, fixed.error().ToString()));
      continue;
    }
    report->superblocks_repaired++;
  }
  return Ok();
}

}  // namespace tessera
