// Database::RecopyThinNodesLocked: bring every tree node, snapshots
// included, up to the pool's metadata copies (database.h contract 5). The
// metadata scrub calls it when its walk found nodes below the count: nodes
// of snapshots taken before the setting rose, and nodes written while too
// few vdevs were online.
//
// Design notes
//  1. A node's copies are listed in its parent's pointer, which is part of
//     the parent's checksummed bytes, so adding a copy writes the node's
//     ancestors anew up to the root (Tree::Recopy, core/tree/tree_recopy.cc).
//     Snapshot roots live in snapshot records, so a snapshot's new root is
//     one record of the root tree, and everything becomes durable in one
//     commit, as every other change does.
//  2. Step 1, live trees first: the root tree and the live trees of the
//     datasets concerned rewrite their nodes below the count
//     (Tree::RewriteNodes, as a raised setting does), and a commit follows.
//     Afterwards no live tree of those datasets references a node below the
//     count nor an ancestor of one: a live tree that reached such a node
//     would have had it rewritten. So every node step 2 writes anew is held
//     by snapshots only, and is on exactly one dead list of its dataset (the
//     dead-list rule of snapshots.cc, note 2: every node the live tree drops
//     that a snapshot holds goes to one). The datasets concerned are those
//     in whose trees the scrub's walk found nodes below the count (a node is
//     never shared by two datasets); both steps take each by name in the
//     same hold of the lock. Nodes written since the walk are the next
//     scrub's.
//  3. Step 2, per dataset with snapshots: Tree::Recopy over every snapshot
//     root with one Recopied, so nodes snapshots share stay shared. Births
//     are kept, so the dead-list rules (which snapshot deletion frees what)
//     hold for the new nodes as they did for the old. Then, in the root
//     tree: each snapshot record takes its new root; each dead-list entry of
//     an old node is replaced, under the same owner, by one for the new node
//     (its key is the node's first copy address); the old nodes' blocks are
//     freed (quarantined until the commit is durable). A node written anew
//     that no dead list names breaks note 2: the dataset is left as it was
//     (its new blocks freed before the root tree changes), and reported.
//  4. Crash safety: the new nodes go to blocks free in the last commit and
//     nothing on disk is overwritten; snapshot records, dead lists and
//     bitmaps change together in the closing commit. A crash before its
//     superblock leaves the previous commit, whose trees are intact and
//     which never allocated the new blocks. A failure once the root tree
//     changed fails the database (contract 3), as a failed commit does.
//  5. Readers: a snapshot tree opened through OpenSnapshot reads the nodes
//     of the root it was opened at, for as long as it lives (a VOL@SNAP
//     export, a clone's base: as long as the clone exists). So when a
//     dataset has open snapshot trees (snapshot_readers_), its old nodes
//     are freed held (Allocator contract 11): free on disk from the closing
//     commit, as any freed node, but not reused while any tree opened
//     before the recopy lives. The dataset's reader token is replaced, so
//     trees opened afterwards (which read the new roots) hold the new one;
//     the first commit after the last old tree closed ends the hold
//     (Database::EndClosedReadersHoldsLocked). A crash ends it too: the
//     blocks are free in the committed bitmaps, and no reader survives. The
//     blocks of nodes unchanged since the old tree opened stay allocated,
//     so every node it reaches verifies. Walks of Check and the scrub itself
//     read under a WalkPin (walk_pin.cc), which keeps freed blocks from
//     reuse until they end.
//  6. Only when every copy can be placed: with fewer online vdevs of the
//     metadata tiers than the pool keeps copies, nodes written anew would
//     again have fewer copies, and every scrub would rewrite them. The
//     repair waits until the vdevs are back (online, replace).
//  7. All of it runs under the commit lock: nodes allocated here must not
//     reach a commit before the records that reference them. It reads every
//     node of the trees of the datasets it repairs (the scrub has just read
//     them, so most come from the cache), and is needed once per raise of
//     the setting or loss of a vdev.
#include <algorithm>
#include <optional>

#include "core/db/database.h"
#include "core/db/root_scan.h"
#include "core/util/log.h"

namespace tessera {

Status Database::RecopyThinNodesLocked(bool root_tree, const std::set<std::string>& datasets,
                                       std::set<uint64_t>* rewritten, MetadataScrubReport* report) {
  TRY_STATUS(FailIfBroken());
  const size_t keep = io_->copies();
  auto thin = [keep](const BlockPtr& ptr) { return ptr.CopyCount() < keep; };
  size_t online = 0;  // design note 6
  for (const PoolVdev& v : pool_->vdevs()) {
    bool metadata = std::find(options_.metadata_tiers.begin(), options_.metadata_tiers.end(), v.config.tier) !=
                    options_.metadata_tiers.end();
    online += metadata && v.device->online();
  }
  if (online < keep) {
    report->errors.push_back(fmt::format(
        "{} of the vdevs that hold metadata are online, fewer than the {} copies the pool keeps: nodes "
        "with fewer copies stay so until the others are back",
        online, keep));
    return Ok();
  }
  TRY_STATUS(RewriteNodesWhereLocked(thin, root_tree, datasets, rewritten, report));
  return Ok();
}

Status Database::RewriteNodesWhereLocked(const std::function<bool(const BlockPtr&)>& which, bool root_tree,
                                         const std::set<std::string>& datasets, std::set<uint64_t>* rewritten,
                                         MetadataScrubReport* report) {
  const size_t keep = io_->copies();
  // Step 1 (design note 2). A read error leaves some nodes dirty, which the
  // next commit writes as any change; nothing else changed.
  auto chosen_live = [&](const BlockPtr& ptr) {
    if (!which(ptr)) return false;
    rewritten->insert(ptr.address);
    return true;
  };
  if (root_tree) TRY_STATUS(root_tree_->RewriteNodes(chosen_live));
  for (const std::string& name : datasets) {
    auto ds = OpenDatasetLocked(name);
    if (!ds) continue;  // deleted or renamed since the walk: the next scrub's
    TRY_STATUS((*ds)->tree().RewriteNodes(chosen_live));
  }
  TRY(CommitLocked());

  // Step 2 (design note 3).
  PoolNodeStore writer(io_.get(), allocator_.get(), options_.metadata_tiers, &txg_);
  std::vector<std::string> problems;
  bool changed = false;
  for (const auto& [name, record] : TRY(DatasetRecordsIn(*root_tree_, &problems))) {
    if (!datasets.contains(name)) continue;
    std::vector<SnapshotRecord> snapshots = TRY(SnapshotsOf(record.id));
    if (snapshots.empty()) continue;
    Tree::Recopied done;
    auto free_new = [&] {
      for (const auto& [old, fresh] : done.moved) {
        for (uint64_t copy : fresh.CopyAddresses()) (void)allocator_->Free(DiskAddress{copy}, BlockCount{fresh.Blocks()});
      }
    };
    std::vector<std::pair<SnapshotRecord, BlockPtr>> new_roots;
    std::optional<Error> failed;
    for (const SnapshotRecord& s : snapshots) {
      auto root = Tree::Recopy(&writer, s.root, options_.tree.compress, which, &done);
      if (!root) {
        failed = root.error().WithContext(fmt::format("writing {}@{} anew", name, s.name));
        break;
      }
      if (*root != s.root) new_roots.emplace_back(s, *root);
    }
    if (failed) {  // nothing in the root tree changed for this dataset
      free_new();
      report->errors.push_back(fmt::format("dataset {}: left as it is: {}", name, failed->ToString()));
      continue;
    }
    if (done.moved.empty()) continue;

    struct Entry {
      uint64_t owner;
      uint64_t address;
      DeadEntry entry;
    };
    std::vector<Entry> entries;
    auto scanned = ScanRecords(*root_tree_, DeadListsPrefix(record.id), DecodeDeadEntry, OnUndecodable::Stop(),
                               [&](std::string_view owner_address, const DeadEntry& entry) {
                                 uint64_t address = ReadBigEndian(owner_address.substr(8));
                                 if (done.moved.contains(address)) {
                                   entries.push_back({ReadBigEndian(owner_address.substr(0, 8)), address, entry});
                                 }
                               });
    if (!scanned || entries.size() != done.moved.size()) {
      free_new();
      report->errors.push_back(fmt::format(
          "dataset {}: {} of {} snapshot nodes to rewrite are on its dead lists{}; left as they are", name,
          entries.size(), done.moved.size(), scanned ? "" : ": " + scanned.error().ToString()));
      continue;
    }
    // Design note 5: old nodes that open snapshot trees may still read.
    std::optional<uint64_t> hold;
    auto readers = snapshot_readers_.find(record.id);
    if (readers != snapshot_readers_.end() && readers->second.use_count() > 1) hold = next_hold_++;
    auto applied = [&]() -> Status {
      for (auto& [s, root] : new_roots) {
        SnapshotRecord updated = s;
        updated.root = root;
        TRY_STATUS(root_tree_->Insert(SnapshotKey(record.id, s.txg), EncodeSnapshotRecord(updated)));
      }
      for (const Entry& e : entries) {
        const BlockPtr& fresh = done.moved.at(e.address);
        TRY_STATUS(root_tree_->Delete(DeadKey(record.id, e.owner, e.address)));
        DeadEntry moved{.birth = e.entry.birth,
                        .blocks = fresh.Blocks(),
                        .copy_address = fresh.copy_address,
                        .more_copies = fresh.more_copies};
        TRY_STATUS(root_tree_->Insert(DeadKey(record.id, e.owner, fresh.address), EncodeDeadEntry(moved)));
      }
      for (const BlockPtr& old : done.old_pointers) {
        for (uint64_t copy : old.CopyAddresses()) {
          const DiskAddress address{copy};
          const BlockCount blocks{old.Blocks()};
          TRY_STATUS(hold ? allocator_->FreeHeld(address, blocks, *hold) : allocator_->Free(address, blocks));
        }
      }
      return Ok();
    }();
    if (!applied) {
      failed_ = applied.error();
      return Err(applied.error());
    }
    for (const BlockPtr& old : done.old_pointers) {
      if (which(old)) rewritten->insert(old.address);
    }
    if (hold) {
      readers_holds_.push_back({.readers = readers->second, .hold = *hold});
      readers->second = std::make_shared<const int>(0);  // for trees opened from now on
      Log(LogLevel::kInfo, "dataset {}: {} open snapshot tree(s) keep reading the old nodes, held until they close",
          name, readers_holds_.back().readers.use_count());
    }
    changed = true;
    Log(LogLevel::kInfo, "dataset {}: {} snapshot tree nodes written anew with {} copies", name,
        done.moved.size(), keep);
  }
  for (const auto& p : problems) report->errors.push_back("root tree record: " + p);
  if (changed) TRY(CommitLocked());
  return Ok();
}

void Database::EndClosedReadersHoldsLocked() {
  std::erase_if(readers_holds_, [&](const ReadersHold& h) {
    if (!h.readers.expired()) return false;
    allocator_->Unhold(h.hold);
    return true;
  });
}

}  // namespace tessera
