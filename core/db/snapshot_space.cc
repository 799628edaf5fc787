// Space accounting of snapshots' tree nodes.
//
// Design notes
//  1. Deleting snapshot S (previous snapshot P at txg p, or p = 0; next owner
//     N) frees the entries of N's dead list born after p (snapshots.cc note
//     4). So exactly those entries are S's unique nodes: they were dropped
//     by the tree after S and born after P, so only S references them.
//  2. Referenced node bytes walk the snapshot's whole tree (ForEachNode):
//     the cost grows with the tree, not with the number of snapshots.
//  3. Unique and dead-list bytes count every copy of a node (ditto copies,
//     database.h contract 5): deleting the snapshot frees them all, and the
//     pool's used bytes count them all. Referenced bytes count a node once,
//     as the data it maps is counted once.
#include "core/db/database.h"
#include "core/db/root_scan.h"

namespace tessera {
namespace {

// Bytes of the dead-list entries under `prefix` born after `after`, every
// copy of each node counted (note 3).
Result<uint64_t> DeadBytes(Tree& root_tree, const std::string& prefix, uint64_t after) {
  uint64_t blocks = 0;
  TRY_STATUS(ScanRecords(root_tree, prefix, DecodeDeadEntry, OnUndecodable::Stop(),
                         [&](std::string_view key, const DeadEntry& entry) {
                           if (entry.birth <= after) return;
                           uint64_t address = ReadBigEndian(key.substr(key.size() - 8));
                           blocks += uint64_t{entry.blocks} * entry.CopyAddresses(address).size();
                         }));
  return blocks * kBlockSize;
}

}  // namespace

Result<SnapshotNodeSpace> Database::SnapshotSpace(std::string_view dataset,
                                                  std::string_view snapshot) {
  std::lock_guard lock(mu_);
  Dataset* ds = TRY(OpenDatasetLocked(dataset));
  auto all = TRY(SnapshotsOf(ds->id()));
  for (size_t i = 0; i < all.size(); i++) {
    if (all[i].name != snapshot) continue;
    SnapshotNodeSpace space;
    uint64_t prev_txg = i > 0 ? all[i - 1].txg : 0;
    uint64_t next_owner = i + 1 < all.size() ? all[i + 1].txg : kLiveOwner;
    space.unique_node_bytes =
        TRY(DeadBytes(*root_tree_, DeadPrefix(ds->id(), next_owner), prev_txg));
    TreeOptions options = options_.tree;
    options.read_only = true;
    auto tree = TRY(Tree::Open(read_store_.get(), &cache_, &actions_, options, all[i].root));
    TRY_STATUS(tree->ForEachNode([&](const BlockPtr& ptr, uint32_t) {
      space.node_bytes += uint64_t{ptr.Blocks()} * kBlockSize;
      return Ok();
    }));
    return space;
  }
  return Err(Code::kNotFound, "no snapshot '{}@{}'", dataset, snapshot);
}

Result<uint64_t> Database::DeadListBytes() {
  std::lock_guard lock(mu_);
  return DeadBytes(*root_tree_, "l", 0);
}

}  // namespace tessera
