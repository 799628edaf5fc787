// The database's side of lost vdevs: whether a degraded pool may open, and
// whether a vdev may go offline (database.h contract 6).
//
// Design notes
//  1. The pool opens whatever vdevs are missing (pool.h contract 1a); only
//     the database knows where the superblocks and the tree-node copies
//     are, so it is the one that decides. At open, when some vdev is not
//     online, every node reachable from the newest usable superblock (root
//     tree, every dataset, every snapshot) is read once through MetadataIo,
//     which tries each copy and verifies it against its parent's checksum.
//     One node with no readable copy refuses the open, naming the vdevs
//     that are not online.
//  2. A degraded open never falls back to an older superblock when the
//     newest one's metadata is incomplete: the older commit's nodes may be
//     as lost, and opening it would silently drop acknowledged commits. The
//     admin brings the vdev back instead (the error says which).
//  3. The walk reads every node, so a degraded open costs a read of all the
//     metadata; a healthy open does not walk.
//  4. OfflineVdev holds the commit lock from its check to the pool's
//     Offline, so no commit places a node's only copies on the vdev in
//     between. The check needs no node to be readable on the vdev itself: a
//     node is safe when some copy lies on another online vdev (its bytes are
//     verified there by the next read or scrub, not here).
#include <set>

#include "core/db/database.h"
#include "core/util/log.h"

namespace tessera {

std::string Database::NotOnlineVdevsLocked() const {
  std::string out;
  for (const PoolVdev& v : pool_->vdevs()) {
    if (v.device->online() || v.removed()) continue;
    out += fmt::format("{}'{}' ({})", out.empty() ? "" : ", ", v.config.name, VdevStateName(v.device->state()));
  }
  return out;
}

Status Database::ForEachCommittedNodeLocked(const std::function<Status(std::string_view, const BlockPtr&)>& fn) {
  std::set<uint64_t> seen;
  auto walk = [&](Tree& tree, const std::string& what) -> Status {
    return tree.ForEachNode([&](const BlockPtr& ptr, uint32_t) -> Status {
      if (!seen.insert(ptr.address).second) return Ok();
      return fn(what, ptr);
    });
  };
  TRY_STATUS(walk(*root_tree_, "root tree"));
  std::vector<std::string> problems;
  auto roots = TRY(TreeRootsIn(*root_tree_, &problems));
  if (!problems.empty()) return Err(Code::kCorruption, "root tree record: {}", problems.front());
  TreeOptions read_only = options_.tree;
  read_only.read_only = true;
  for (const TreeRoot& r : roots) {
    auto tree = Tree::Open(read_store_.get(), &cache_, &actions_, read_only, r.root);
    if (!tree) return Err(tree.error().WithContext(r.what));
    auto walked = walk(**tree, r.what);
    if (!walked) return Err(walked.error().WithContext(r.what));
  }
  return Ok();
}

Status Database::VerifyMetadataReadableLocked() {
  auto walked = ForEachCommittedNodeLocked([](std::string_view, const BlockPtr&) { return Ok(); });
  if (walked) return Ok();
  return Err(Error(walked.error().code(),
                   fmt::format("the pool's metadata is not complete without vdev(s) {}: {}; bring them back "
                               "(vdev online, or restore the files) and open again",
                               NotOnlineVdevsLocked(), walked.error().message())));
}

Status Database::OfflineVdev(const std::string& name) {
  std::lock_guard lock(mu_);
  TRY_STATUS(FailIfBroken());
  const PoolVdev* target = pool_->FindByName(name);
  if (target == nullptr) return pool_->Offline(name);  // NotFound naming the vdevs
  if (!target->device->online()) return pool_->Offline(name);
  auto elsewhere = [&](uint64_t address) {
    DiskAddress a{address};
    if (a.tier() == target->config.tier && a.vdev() == target->config.index) return false;
    return !pool_->IsFaulted(a);
  };
  bool superblock_elsewhere = false;
  for (const PoolVdev* v : SuperblockVdevs()) superblock_elsewhere |= v != target;
  if (!superblock_elsewhere) {
    return Err(Code::kInvalidArgument,
               "vdev '{}' holds the only copy of the pool's superblock; it cannot go offline", name);
  }
  uint64_t stranded = 0;
  std::string example;
  TRY_STATUS(ForEachCommittedNodeLocked([&](std::string_view what, const BlockPtr& ptr) -> Status {
    for (uint64_t address : ptr.CopyAddresses()) {
      if (elsewhere(address)) return Ok();
    }
    if (stranded++ == 0) example = fmt::format("{}: node at {}", what, DiskAddress{ptr.address}.ToString());
    return Ok();
  }));
  if (stranded > 0) {
    return Err(Code::kInvalidArgument,
               "vdev '{}' holds the only online copy of {} tree node(s) (first: {}); it cannot go offline "
               "until another vdev holds them (bring the other vdevs online and scrub)",
               name, stranded, example);
  }
  TRY_STATUS(pool_->Offline(name));
  Log(LogLevel::kInfo, "vdev '{}' may go offline: every tree node has a copy on another online vdev", name);
  return Ok();
}

}  // namespace tessera
