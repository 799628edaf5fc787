// Tree: construction, argument checking, and the entry points of mutations.
//
// Design notes
//  1. Every public mutation validates its arguments before touching state,
//     so InvalidArgument / ReadOnly change nothing.
//  2. A mutation is one message added to the root (see tree_impl.h note 2),
//     followed by FixRoot(). The message is visible to readers as soon as it
//     is in the root's buffer.
//  3. Dirty bytes are tracked exactly in dirty_bytes_ (approximate bytes
//     changed since Sync) and reported to the cache in steps of at least
//     kDirtyReportStep to keep the cache mutex off the insert path.
#include "core/tree/tree.h"

#include <mutex>

#include "core/tree/tree_impl.h"

namespace tessera {
namespace {

constexpr uint64_t kDirtyReportStep = 64 * 1024;

Status CheckOptions(const TreeOptions& options) {
  if (options.node_size < 16 * 1024) {
    return Err(Code::kInvalidArgument, "node_size {} below 16 KiB", options.node_size);
  }
  if (options.max_fanout < 4 || options.max_fanout > 4096) {
    return Err(Code::kInvalidArgument, "max_fanout {} out of range [4, 4096]", options.max_fanout);
  }
  return Ok();
}

Status CheckKey(std::string_view key, std::string_view what) {
  if (key.empty() || key.size() > kMaxKeySize) {
    return Err(Code::kInvalidArgument, "{} of {} bytes (must be 1..{})", what, key.size(),
               kMaxKeySize);
  }
  return Ok();
}

}  // namespace

Tree::Impl::Impl(NodeStore* store, NodeCache* cache, const MessageActions* actions,
                 TreeOptions options)
    : store_(store), cache_(cache), actions_(actions), options_(options) {}

Tree::Impl::~Impl() {
  if (dirty_reported_ > 0) cache_->SubDirty(dirty_reported_);
}

Status Tree::Impl::CheckWritable() const {
  if (options_.read_only) return Err(Code::kReadOnly, "tree is read-only");
  if (freed_) return Err(Code::kInvalidArgument, "tree was freed");
  return Ok();
}

void Tree::Impl::NoteDirty(int64_t delta) {
  if (delta < 0 && static_cast<uint64_t>(-delta) > dirty_bytes_) delta = -int64_t(dirty_bytes_);
  dirty_bytes_ += delta;
  if (dirty_bytes_ >= dirty_reported_ + kDirtyReportStep) {
    cache_->AddDirty(dirty_bytes_ - dirty_reported_);
    dirty_reported_ = dirty_bytes_;
  } else if (dirty_bytes_ + kDirtyReportStep <= dirty_reported_ || dirty_bytes_ == 0) {
    cache_->SubDirty(dirty_reported_ - dirty_bytes_);
    dirty_reported_ = dirty_bytes_;
  }
}

void Tree::Impl::PrepareRootForMessage() {
  if (!root_dirty_) {
    root_dirty_ = true;
    root_old_ptr_ = root_ptr_;
    NoteDirty(static_cast<int64_t>(root_->SerializedBytes()));
  }
  if (root_->IsLeaf()) {
    auto wrapper = std::make_unique<Node>();
    wrapper->level = 1;
    wrapper->children.resize(1);
    wrapper->children[0].ptr = root_old_ptr_;
    wrapper->children[0].dirty = std::move(root_);
    root_old_ptr_ = BlockPtr{};
    root_ = std::move(wrapper);
    height_ = 2;
  }
}

Status Tree::Impl::AddPoint(std::string_view key, Message msg) {
  auto lock = WriteLock();
  TRY_STATUS(CheckWritable());
  return AddPointLocked(key, std::move(msg));
}

Status Tree::Impl::AddRangeDelete(std::string_view lo, std::string_view hi) {
  auto lock = WriteLock();
  TRY_STATUS(CheckWritable());
  return AddRangeDeleteLocked(lo, hi);
}

Status Tree::Impl::AddPointLocked(std::string_view key, Message msg) {
  PrepareRootForMessage();
  NoteDirty(static_cast<int64_t>(Buffer::PointBytes(key, msg)));
  size_t i = root_->ChildIndex(key);
  root_->children[i].buffer.Put(std::string(key), std::move(msg), *actions_);
  return FixRoot();
}

Status Tree::Impl::AddRangeDeleteLocked(std::string_view lo, std::string_view hi) {
  PrepareRootForMessage();
  NoteDirty(static_cast<int64_t>(Buffer::RangeBytes(lo, hi)));
  RouteRange(root_.get(), lo, hi);
  return FixRoot();
}

Status Tree::Impl::ReplaceRange(std::string_view lo, std::string_view hi, std::span<const TreeEntry> entries) {
  auto lock = WriteLock();
  TRY_STATUS(CheckWritable());
  TRY_STATUS(AddRangeDeleteLocked(lo, hi));
  for (const TreeEntry& e : entries) TRY_STATUS(AddPointLocked(e.key, Message{MsgType::kInsert, e.value}));
  return Ok();
}

Result<std::shared_ptr<const Node>> Tree::Impl::LoadNode(const BlockPtr& ptr,
                                                         uint32_t level) const {
  if (auto hit = cache_->Lookup(ptr.address, ptr.checksum)) {
    if (level != kAnyLevel && hit->level != level) {
      return Err(Code::kCorruption, "tree node at address {}: unexpected node level", ptr.address);
    }
    return hit;
  }
  std::shared_ptr<const Node> node = TRY(ReadNode(store_, ptr, level));
  nodes_read_.fetch_add(1, std::memory_order_relaxed);
  cache_->Insert(ptr.address, ptr.checksum, node, node->MemoryBytes());
  return node;
}

// ---- public API ----

Tree::Tree(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tree::~Tree() = default;

Result<std::unique_ptr<Tree>> Tree::Create(NodeStore* store, NodeCache* cache,
                                           const MessageActions* actions, TreeOptions options) {
  TRY_STATUS(CheckOptions(options));
  auto impl = std::make_unique<Impl>(store, cache, actions, options);
  impl->root_ = std::make_unique<Node>();
  impl->root_dirty_ = true;
  impl->NoteDirty(static_cast<int64_t>(impl->root_->SerializedBytes()));
  return std::unique_ptr<Tree>(new Tree(std::move(impl)));
}

Result<std::unique_ptr<Tree>> Tree::Open(NodeStore* store, NodeCache* cache,
                                         const MessageActions* actions, TreeOptions options,
                                         const BlockPtr& root) {
  TRY_STATUS(CheckOptions(options));
  if (root.IsNull()) return Err(Code::kInvalidArgument, "open of a null root pointer");
  auto impl = std::make_unique<Impl>(store, cache, actions, options);
  std::shared_ptr<const Node> node = TRY(impl->LoadNode(root, kAnyLevel));
  impl->root_ = node->CloneClean();
  impl->root_ptr_ = root;
  impl->height_ = impl->root_->level + 1;
  return std::unique_ptr<Tree>(new Tree(std::move(impl)));
}

Status Tree::Insert(std::string_view key, std::string_view value) {
  TRY_STATUS(CheckKey(key, "key"));
  if (value.size() > kMaxValueSize) {
    return Err(Code::kInvalidArgument, "value of {} bytes exceeds {}", value.size(), kMaxValueSize);
  }
  return impl_->AddPoint(key, Message{MsgType::kInsert, std::string(value)});
}

Status Tree::Delete(std::string_view key) {
  TRY_STATUS(CheckKey(key, "key"));
  return impl_->AddPoint(key, Message{MsgType::kDelete, {}});
}

Status Tree::Upsert(std::string_view key, ActionId action, std::string_view param) {
  TRY_STATUS(CheckKey(key, "key"));
  if (!impl_->actions_->Knows(action)) {
    return Err(Code::kInvalidArgument, "unknown upsert action {}", action);
  }
  if (param.size() > kMaxValueSize) {
    return Err(Code::kInvalidArgument, "upsert param of {} bytes exceeds {}", param.size(),
               kMaxValueSize);
  }
  Message msg{MsgType::kUpsert, {}};
  AppendUpsertOp(&msg.payload, action, param);
  return impl_->AddPoint(key, std::move(msg));
}

Status Tree::RangeDelete(std::string_view lo, std::string_view hi) {
  if (lo.size() > kMaxKeySize) return Err(Code::kInvalidArgument, "range lo too long");
  TRY_STATUS(CheckKey(hi, "range hi"));
  if (!(lo < hi)) return Err(Code::kInvalidArgument, "range-delete needs lo < hi");
  return impl_->AddRangeDelete(lo, hi);
}

Status Tree::ReplaceRange(std::string_view lo, std::string_view hi, std::span<const TreeEntry> entries) {
  if (lo.size() > kMaxKeySize) return Err(Code::kInvalidArgument, "range lo too long");
  TRY_STATUS(CheckKey(hi, "range hi"));
  if (!(lo < hi)) return Err(Code::kInvalidArgument, "range replace needs lo < hi");
  for (const TreeEntry& e : entries) {
    TRY_STATUS(CheckKey(e.key, "key"));
    if (e.key < lo || e.key >= hi) {
      return Err(Code::kInvalidArgument, "range replace: a key lies outside the range it replaces");
    }
    if (e.value.size() > kMaxValueSize) {
      return Err(Code::kInvalidArgument, "value of {} bytes exceeds {}", e.value.size(), kMaxValueSize);
    }
  }
  return impl_->ReplaceRange(lo, hi, entries);
}

Result<std::optional<std::string>> Tree::Get(std::string_view key) {
  TRY_STATUS(CheckKey(key, "key"));
  return impl_->Get(key);
}

Status Tree::Scan(std::string_view lo, std::string_view hi, const ScanFn& fn) {
  return impl_->Scan(lo, hi, fn);
}

Result<BlockPtr> Tree::Sync() { return impl_->Sync(); }

BlockPtr Tree::root() const {
  auto lock = impl_->ReadLock();
  return impl_->root_ptr_;
}

uint64_t Tree::DirtyBytes() const {
  auto lock = impl_->ReadLock();
  return impl_->dirty_bytes_;
}

Tree::Stats Tree::stats() const {
  Stats s;
  s.height = impl_->height_.load(std::memory_order_relaxed);
  s.nodes_read = impl_->nodes_read_.load(std::memory_order_relaxed);
  s.nodes_written = impl_->nodes_written_.load(std::memory_order_relaxed);
  s.flushes = impl_->flushes_.load(std::memory_order_relaxed);
  s.splits = impl_->splits_.load(std::memory_order_relaxed);
  s.merges = impl_->merges_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace tessera
