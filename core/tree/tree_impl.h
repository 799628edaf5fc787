// Tree::Impl: the state behind the public Tree. Internal to core/tree.
//
// Design notes
//  1. The root is always held in memory, owned by the tree. `root_dirty_`
//     says whether it changed since it was last written; when it did,
//     `root_old_ptr_` is its previous on-disk version (freed at Sync) and
//     `root_ptr_` still names the last synced root.
//  2. Mutations add messages to the root's buffers (a leaf root is first
//     wrapped in a one-child internal root), then FixRoot() restores the
//     shape: flush while over node_size, split over max_fanout, grow on
//     split, collapse a one-child root with an empty buffer.
//  3. Copy-on-write: MutableChild() turns a clean child (shared via the
//     cache) into a private dirty copy owned by the parent slot. Pointers to
//     on-disk versions that stop being referenced go to pending_free_ (or
//     stay in their slot's `ptr` until the dirty copy is written) and are
//     handed to NodeStore::Free when a Sync completes.
//  4. Readers (Get/Scan/ForEachNode) hold mu_ shared and never modify tree
//     structure: a clean child is resolved through the cache by (address,
//     checksum) or read and inserted into the cache, never stored into its
//     parent. Writers hold mu_ exclusively.
//  5. Lock order: turnstile_ then mu_ (see ReadLock/WriteLock).
//  6. Stats counters are atomics because readers bump nodes_read.
#pragma once

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "core/tree/codec.h"
#include "core/tree/node.h"
#include "core/tree/tree.h"

namespace tessera {

class Tree::Impl {
 public:
  Impl(NodeStore* store, NodeCache* cache, const MessageActions* actions, TreeOptions options);
  ~Impl();

  // ---- tree.cc ----
  Status CheckWritable() const;
  Status AddPoint(std::string_view key, Message msg);
  Status AddRangeDelete(std::string_view lo, std::string_view hi);
  Status ReplaceRange(std::string_view lo, std::string_view hi, std::span<const TreeEntry> entries);
  // The messages' work, with mu_ held exclusively.
  Status AddPointLocked(std::string_view key, Message msg);
  Status AddRangeDeleteLocked(std::string_view lo, std::string_view hi);
  // Makes the root writable; wraps a leaf root into a one-child internal root.
  void PrepareRootForMessage();
  void NoteDirty(int64_t delta);
  Result<std::shared_ptr<const Node>> LoadNode(const BlockPtr& ptr, uint32_t level) const;

  // ---- tree_get.cc / tree_scan.cc (mu_ shared) ----
  Result<std::optional<std::string>> Get(std::string_view key) const;
  Status Scan(std::string_view lo, std::string_view hi, const ScanFn& fn) const;
  // Scan of `want` within the subtree `node` (covering `self`), with the
  // buffers of its ancestors (root first) applied. The caller holds mu_.
  Status ScanSubtreeLocked(const Node* node, KeyRange self, const std::vector<const Buffer*>& ancestors,
                           KeyRange want, const ScanFn& fn) const;

  // ---- tree_flush.cc (mu_ exclusive) ----
  Status FixRoot();
  Status FlushIfNeeded(Node* node);
  Status FlushChild(Node* node, size_t i);
  Status RebalanceChild(Node* node, size_t i);
  Result<Node*> MutableChild(Node* node, size_t i);
  Status MergeChildren(Node* node, size_t left);
  // Splits the (dirty) child i into pieces, splitting its buffer to match.
  void SplitChild(Node* node, size_t i);
  // Routes a range-delete [lo, hi) into the buffers of `node`'s children.
  void RouteRange(Node* node, std::string_view lo, std::string_view hi);

  // ---- tree_sync.cc ----
  Result<BlockPtr> Sync();
  Status WriteDirtyChildren(Node* node);
  Result<BlockPtr> WriteNode(const Node& node);
  Status Visit(const BlockPtr& ptr, uint32_t level, const NodeFn& fn) const;
  // RewriteNodes: whether the clean subtree at `ptr` holds a selected node;
  // then makes the selected subtrees of `node`'s children dirty.
  Result<bool> SubtreeSelected(const BlockPtr& ptr, uint32_t level,
                               const std::function<bool(const BlockPtr&)>& select) const;
  Status DirtySelected(Node* node, const std::function<bool(const BlockPtr&)>& select);

  NodeStore* const store_;
  NodeCache* const cache_;
  const MessageActions* const actions_;
  const TreeOptions options_;

  // Lock helpers. glibc's rwlock prefers readers, so a steady stream of
  // readers could starve writers; a writer holds turnstile_ while it waits
  // for mu_, which stops new readers from entering meanwhile.
  std::shared_lock<std::shared_mutex> ReadLock() const {
    { std::lock_guard gate(turnstile_); }
    return std::shared_lock(mu_);
  }
  std::unique_lock<std::shared_mutex> WriteLock() {
    std::lock_guard gate(turnstile_);
    return std::unique_lock(mu_);
  }

  mutable std::mutex turnstile_;
  mutable std::shared_mutex mu_;
  std::unique_ptr<Node> root_;              // guarded by mu_
  BlockPtr root_ptr_;                       // guarded by mu_
  BlockPtr root_old_ptr_;                   // guarded by mu_
  bool root_dirty_ = false;                 // guarded by mu_
  bool freed_ = false;                      // guarded by mu_
  std::vector<BlockPtr> pending_free_;      // guarded by mu_
  uint64_t dirty_bytes_ = 0;                // guarded by mu_
  uint64_t dirty_reported_ = 0;             // guarded by mu_

  mutable std::atomic<uint64_t> nodes_read_{0};
  std::atomic<uint64_t> nodes_written_{0};
  std::atomic<uint64_t> flushes_{0};
  std::atomic<uint64_t> splits_{0};
  std::atomic<uint64_t> merges_{0};
  std::atomic<uint32_t> height_{1};
};

}  // namespace tessera
