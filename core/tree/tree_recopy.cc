// Tree::Recopy: a copy-on-write rewrite of a tree that is not open for
// writing (a snapshot), for the nodes a caller picks, with births kept.
//
// Design notes
//  1. A node's pointer in its parent holds every copy address and the
//     checksum of its stored bytes, and that pointer is part of the parent's
//     stored bytes. So a node cannot gain a copy in place: its parent must be
//     written anew with the longer pointer, and the parent's parent, up to
//     the root. Every node written anew goes to fresh blocks (Allocate, with
//     the copies the store keeps now); nothing already on disk is written.
//  2. Births are kept: a node written anew carries the birth of the node it
//     replaces, not the current generation. Snapshot dead lists and space
//     accounting (core/db/snapshots.cc) decide by birth which snapshots can
//     hold a node; a recopied node is held by exactly the same ones.
//  3. Nodes are read through the store (verified, repaired), decoded, their
//     child pointers replaced, and encoded again; leaves and buffers keep
//     their content, so the tree reads the same. Post-order: children first.
//  4. Sharing: Recopied::moved maps an old node to its new pointer, and
//     Recopied::kept lists nodes left alone, across calls. A node reached
//     again (from another snapshot) is not read again, and every parent that
//     shared it shares its new version.
#include <cstring>

#include "core/tree/codec.h"
#include "core/tree/tree.h"
#include "core/util/aligned_buffer.h"
#include "core/util/checksum.h"

namespace tessera {
namespace {

Result<BlockPtr> RecopyNode(NodeStore* store, const BlockPtr& ptr, uint32_t level, bool compress,
                            const std::function<bool(const BlockPtr&)>& select, Tree::Recopied* done) {
  if (auto it = done->moved.find(ptr.address); it != done->moved.end()) return it->second;
  if (done->kept.contains(ptr.address)) return ptr;
  std::unique_ptr<Node> node = TRY(ReadNode(store, ptr, level));
  bool rewrite = select(ptr);
  if (!node->IsLeaf()) {
    for (auto& slot : node->children) {
      BlockPtr child = TRY(RecopyNode(store, slot.ptr, node->level - 1, compress, select, done));
      if (child != slot.ptr) {
        slot.ptr = child;
        rewrite = true;
      }
    }
  }
  if (!rewrite) {
    done->kept.insert(ptr.address);
    return ptr;
  }
  BlockPtr fresh;
  std::string stored = EncodeNode(*node, compress, &fresh.compression);
  fresh.stored_bytes = static_cast<uint32_t>(stored.size());
  fresh.checksum = Checksum64(stored.data(), stored.size());
  fresh.birth = ptr.birth;  // design note 2
  TRY_STATUS(store->Allocate(&fresh));
  done->moved.emplace(ptr.address, fresh);
  done->old_pointers.push_back(ptr);
  AlignedBuffer buf(static_cast<size_t>(fresh.Blocks()) * 4096);
  std::memcpy(buf.data(), stored.data(), stored.size());
  TRY_STATUS(store->Write(fresh, buf.span()));
  return fresh;
}

}  // namespace

Result<BlockPtr> Tree::Recopy(NodeStore* store, const BlockPtr& root, bool compress,
                              const std::function<bool(const BlockPtr&)>& select, Recopied* done) {
  if (root.IsNull()) return root;
  return RecopyNode(store, root, kAnyLevel, compress, select, done);
}

}  // namespace tessera
