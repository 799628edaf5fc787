// Walks of the last commit without the commit lock: Check and ScrubMetadata
// read every node of every tree, which on a large pool or a slow device
// takes long; commits, snapshot and dataset management must not wait for it.
//
// Design notes
//  1. What a walk reads: the trees of one commit, txg N, the last one when
//     the walk starts. Under mu_, PinLastCommitLocked opens a read-only tree
//     over N's root tree (superblock_.root, written by N's commit) and raises
//     walks_. From then on the walk reads N's root tree for the dataset,
//     snapshot, extent and dead-list records, and opens read-only trees over
//     the roots those name, all through read_store_ and the node cache,
//     without mu_. Nothing it reads is changed by later work: nodes are
//     copy-on-write, so a commit after N writes new nodes to newly allocated
//     blocks and never writes over a node of N.
//  2. Invariant (held before this file too): every block a node of the last
//     commit occupies is allocated or quarantined; never free to allocate.
//     Frees of nodes (Tree::Sync and FreeAll through the node stores, dead-
//     list frees of snapshot delete, rollback) happen under mu_ and
//     quarantine the blocks; the only release, Allocator::ReleaseQuarantine,
//     runs at the end of a successful commit, whose own tree no longer
//     holds what that commit freed.
//  3. The pin: while walks_ > 0, commits skip that release. So from the pin
//     on, a block of N that a later commit or management call frees stays
//     quarantined, and the allocator hands it to nobody (allocator.h
//     contract 2); since no one writes an unallocated block, its bytes stay
//     what N's pointer checksums. By 2, a block of N that is not yet freed
//     is allocated, and its node is never rewritten in place (note 1). So
//     every pointer the walk follows names bytes that verify, however many
//     commits run meanwhile.
//  4. Ordering: walks_ is raised under mu_, in the same hold that reads
//     superblock_, so every commit after the pin sees it (mu_ orders them).
//     The pin drops it (release) after the walk's last I/O returned;
//     CommitLocked loads it (acquire) under mu_, so a release it then makes
//     comes after every read and repair write of the walk. A commit running
//     when the last pin drops may still skip its release; the next commit
//     releases everything, as quarantine was meant to hold until then
//     anyway. Dropping takes no lock, so a pin may end in any context.
//  5. Repairs by the walk (MetadataIo rewrites a bad copy from a good one,
//     in place) need no lock: the copy belongs either to a live node (a
//     concurrent reader repairing it writes the same bytes, metadata_io.h
//     contract 6) or to a node freed since the pin, whose blocks nobody
//     else may hold until the pin drops (note 3); writing the node's own
//     bytes there harms nothing.
//  6. Cost: while a walk runs, space freed is not reusable; a long walk on
//     a nearly full pool may see NoSpace that waiting would avoid. Metadata
//     keeps its reserve (allocator.h contract 7) for the commits that free.
//  7. Consistency for Check: the bitmaps it compares with are copied in the
//     same hold of mu_ as its commit and pin, so they are N's (allocated
//     bits; quarantine is not allocation), and N's trees, read later, are
//     what they were (note 3): the comparison is of one commit with itself.
#include "core/db/database.h"

namespace tessera {

Database::WalkPin::WalkPin(std::atomic<uint32_t>* walks) : walks_(walks) {
  walks_->fetch_add(1, std::memory_order_relaxed);  // under mu_ (note 4)
}

Database::WalkPin::~WalkPin() {
  if (walks_ != nullptr) walks_->fetch_sub(1, std::memory_order_release);
}

Result<Database::PinnedCommit> Database::PinLastCommitLocked() {
  WalkPin pin(&walks_);  // before the root is read: Open reads its node
  TreeOptions options = RootTreeOptions();
  options.read_only = true;
  auto root = TRY(Tree::Open(read_store_.get(), &cache_, &actions_, options, superblock_.root));
  return PinnedCommit{.pin = std::move(pin), .root = std::move(root), .txg = superblock_.txg};
}

}  // namespace tessera
