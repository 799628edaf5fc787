// Sync (bottom-up copy-on-write writeback), node enumeration and FreeAll.
//
// Design notes
//  1. Sync writes every dirty node after all of its dirty children, so each
//     encoded node carries its children's new pointers. A written node gets
//     a fresh allocation (Allocate -> Write of whole 4 KiB blocks, to every
//     copy the store keeps), its
//     slot's old pointer goes to pending_free_, its slot's pointer becomes
//     the new one (birth = store->CurrentGeneration()), and the node moves
//     into the cache as clean.
//  2. Frees are issued only after the new root is written, so a failed Sync
//     frees nothing; nodes already written stay clean and the rest stay dirty
//     for the next attempt.
//  3. The root stays owned by the tree after Sync (it is never shared).
//  4. ForEachNode/FreeAll walk the last synced version from root_ptr_
//     through the cache/store, parents before children.
#include <cstring>
#include <mutex>

#include "core/tree/tree_impl.h"
#include "core/util/aligned_buffer.h"
#include "core/util/checksum.h"

namespace tessera {

Result<BlockPtr> Tree::Impl::WriteNode(const Node& node) {
  BlockPtr ptr;
  std::string stored = EncodeNode(node, options_.compress, &ptr.compression);
  ptr.stored_bytes = static_cast<uint32_t>(stored.size());
  ptr.checksum = Checksum64(stored.data(), stored.size());
  ptr.birth = store_->CurrentGeneration();
  TRY_STATUS(store_->Allocate(&ptr));
  AlignedBuffer buf(static_cast<size_t>(ptr.Blocks()) * 4096);
  std::memcpy(buf.data(), stored.data(), stored.size());
  TRY_STATUS(store_->Write(ptr, buf.span()));
  nodes_written_.fetch_add(1, std::memory_order_relaxed);
  return ptr;
}

Status Tree::Impl::WriteDirtyChildren(Node* node) {
  if (node->IsLeaf()) return Ok();
  for (auto& slot : node->children) {
    if (!slot.dirty) continue;
    TRY_STATUS(WriteDirtyChildren(slot.dirty.get()));
    BlockPtr ptr = TRY(WriteNode(*slot.dirty));
    if (!slot.ptr.IsNull()) pending_free_.push_back(slot.ptr);
    slot.ptr = ptr;
    size_t bytes = slot.dirty->MemoryBytes();
    cache_->Insert(ptr.address, ptr.checksum, std::shared_ptr<const Node>(std::move(slot.dirty)),
                   bytes);
  }
  return Ok();
}

Result<BlockPtr> Tree::Impl::Sync() {
  auto lock = WriteLock();
  if (freed_) return Err(Code::kInvalidArgument, "tree was freed");
  if (!root_dirty_) return root_ptr_;
  if (options_.read_only) return Err(Code::kReadOnly, "tree is read-only");
  TRY_STATUS(WriteDirtyChildren(root_.get()));
  BlockPtr ptr = TRY(WriteNode(*root_));
  if (!root_old_ptr_.IsNull()) pending_free_.push_back(root_old_ptr_);
  root_old_ptr_ = BlockPtr{};
  root_ptr_ = ptr;
  root_dirty_ = false;
  for (const BlockPtr& p : pending_free_) store_->Free(p);
  pending_free_.clear();
  NoteDirty(-static_cast<int64_t>(dirty_bytes_));
  return ptr;
}

Status Tree::Impl::Visit(const BlockPtr& ptr, uint32_t level, const NodeFn& fn) const {
  std::shared_ptr<const Node> node = TRY(LoadNode(ptr, level));
  TRY_STATUS(fn(ptr, node->level));
  for (const auto& c : node->children) TRY_STATUS(Visit(c.ptr, node->level - 1, fn));
  return Ok();
}

Status Tree::ForEachNode(const NodeFn& fn) {
  auto lock = impl_->ReadLock();
  if (impl_->freed_) return Err(Code::kInvalidArgument, "tree was freed");
  if (impl_->root_ptr_.IsNull()) return Ok();
  return impl_->Visit(impl_->root_ptr_, kAnyLevel, fn);
}

Result<bool> Tree::Impl::SubtreeSelected(const BlockPtr& ptr, uint32_t level,
                                         const std::function<bool(const BlockPtr&)>& select) const {
  if (select(ptr)) return true;
  std::shared_ptr<const Node> node = TRY(LoadNode(ptr, level));
  for (const auto& c : node->children) {
    if (TRY(SubtreeSelected(c.ptr, node->level - 1, select))) return true;
  }
  return false;
}

Status Tree::Impl::DirtySelected(Node* node, const std::function<bool(const BlockPtr&)>& select) {
  for (size_t i = 0; i < node->children.size(); i++) {
    ChildSlot& slot = node->children[i];
    if (!slot.dirty && !TRY(SubtreeSelected(slot.ptr, node->level - 1, select))) continue;
    TRY_STATUS(DirtySelected(TRY(MutableChild(node, i)), select));
  }
  return Ok();
}

Status Tree::RewriteNodes(const std::function<bool(const BlockPtr&)>& select) {
  auto lock = impl_->WriteLock();
  TRY_STATUS(impl_->CheckWritable());
  bool any = impl_->root_dirty_ || (!impl_->root_ptr_.IsNull() && select(impl_->root_ptr_));
  if (!any) {
    for (const auto& c : impl_->root_->children) {
      if (c.dirty || TRY(impl_->SubtreeSelected(c.ptr, impl_->root_->level - 1, select))) {
        any = true;
        break;
      }
    }
  }
  if (!any) return Ok();
  if (!impl_->root_dirty_) {  // as PrepareRootForMessage, without wrapping a leaf root
    impl_->root_dirty_ = true;
    impl_->root_old_ptr_ = impl_->root_ptr_;
    impl_->NoteDirty(static_cast<int64_t>(impl_->root_->SerializedBytes()));
  }
  return impl_->DirtySelected(impl_->root_.get(), select);
}

Status Tree::FreeAll() {
  auto lock = impl_->WriteLock();
  if (impl_->options_.read_only) return Err(Code::kReadOnly, "tree is read-only");
  if (impl_->freed_) return Err(Code::kInvalidArgument, "tree was freed");
  std::vector<BlockPtr> all;
  if (!impl_->root_ptr_.IsNull()) {
    TRY_STATUS(impl_->Visit(impl_->root_ptr_, kAnyLevel, [&](const BlockPtr& p, uint32_t) {
      all.push_back(p);
      return Ok();
    }));
  }
  for (const BlockPtr& p : all) impl_->store_->Free(p);
  impl_->pending_free_.clear();
  impl_->root_ = std::make_unique<Node>();
  impl_->root_ptr_ = BlockPtr{};
  impl_->root_old_ptr_ = BlockPtr{};
  impl_->root_dirty_ = false;
  impl_->freed_ = true;
  impl_->NoteDirty(-static_cast<int64_t>(impl_->dirty_bytes_));
  return Ok();
}

}  // namespace tessera
