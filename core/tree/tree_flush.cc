// Restructuring: flushes, splits, merges, root growth and collapse.
//
// Design notes
//  1. FlushIfNeeded(node): while the node is over node_size, its fullest
//     buffer is moved into the child (FlushChild). Each round empties one
//     buffer, so the loop ends.
//  2. FlushChild: a leaf child applies the batch (ranges, then points); an
//     internal child receives the ranges (clipped per grandchild) and then
//     the points in its buffers, and recursively flushes itself. Messages
//     from the parent are newer than everything in the child's buffers, so
//     Buffer::AddRange / PutNode keep invariant 4 of node.h.
//  3. RebalanceChild(node, i) restores the child's shape after a flush:
//       leaf over node_size        -> split into ~3/4-full pieces
//       leaf under node_size/4     -> merge with a sibling, re-split if big
//       internal over max_fanout   -> split into pieces of <= max_fanout
//       internal under min fanout  -> merge with a sibling, flush, re-split
//     A split or merge also splits or merges the parent's buffers, so every
//     message stays in the buffer of the child whose range holds its key.
//  4. FixRoot: a leaf root over node_size grows a new root; an internal root
//     is flushed, split when over max_fanout (the tree grows), and collapses
//     while it has one child and an empty buffer (the tree shrinks).
//  5. Failures (a child that does not verify) leave the tree consistent:
//     children are loaded (MutableChild) before anything is moved into them.
#include <algorithm>

#include "core/tree/tree_impl.h"

namespace tessera {
namespace {

size_t MinFanout(const TreeOptions& o) { return std::max<size_t>(2, o.max_fanout / 4); }

}  // namespace

Result<Node*> Tree::Impl::MutableChild(Node* node, size_t i) {
  ChildSlot& slot = node->children[i];
  if (slot.dirty) return slot.dirty.get();
  std::shared_ptr<const Node> clean = TRY(LoadNode(slot.ptr, node->level - 1));
  slot.dirty = clean->CloneClean();
  NoteDirty(static_cast<int64_t>(slot.dirty->SerializedBytes()));
  return slot.dirty.get();
}

void Tree::Impl::RouteRange(Node* node, std::string_view lo, std::string_view hi) {
  for (size_t i = node->ChildIndex(lo); i < node->children.size(); ++i) {
    KeyRange r = node->ChildRange(i, KeyRange{});
    std::string_view clo = std::max(lo, r.lo);
    std::string_view chi = (r.hi.empty() || hi < r.hi) ? hi : r.hi;
    if (clo < chi) node->children[i].buffer.AddRange(clo, chi);
    if (r.hi.empty() || r.hi >= hi) break;
  }
}

Status Tree::Impl::FlushIfNeeded(Node* node) {
  while (node->SerializedBytes() > options_.node_size) {
    size_t i = node->FullestBuffer();
    if (node->children[i].buffer.empty()) break;
    TRY_STATUS(FlushChild(node, i));
  }
  return Ok();
}

Status Tree::Impl::FlushChild(Node* node, size_t i) {
  Node* child = TRY(MutableChild(node, i));
  Buffer::Points points;
  Buffer::Ranges ranges;
  node->children[i].buffer.TakeAll(&points, &ranges);
  flushes_.fetch_add(1, std::memory_order_relaxed);
  if (child->IsLeaf()) {
    ApplyBufferToLeaf(*actions_, ranges, points, &child->leaf);
  } else {
    for (const auto& [lo, hi] : ranges) RouteRange(child, lo, hi);
    while (!points.empty()) {
      auto nh = points.extract(points.begin());
      size_t j = child->ChildIndex(nh.key());
      child->children[j].buffer.PutNode(std::move(nh), *actions_);
    }
    TRY_STATUS(FlushIfNeeded(child));
  }
  return RebalanceChild(node, i);
}

Status Tree::Impl::RebalanceChild(Node* node, size_t i) {
  Node* child = node->children[i].dirty.get();
  if (child == nullptr) return Ok();
  const size_t n = node->children.size();
  if (child->IsLeaf()) {
    size_t bytes = child->SerializedBytes();
    if (bytes > options_.node_size) {
      SplitChild(node, i);
    } else if (bytes < options_.node_size / 4 && n > 1) {
      size_t left = (i + 1 < n) ? i : i - 1;
      TRY_STATUS(MergeChildren(node, left));
      if (node->children[left].dirty->SerializedBytes() > options_.node_size) {
        SplitChild(node, left);
      }
    }
    return Ok();
  }
  if (child->children.size() < MinFanout(options_) && n > 1) {
    size_t left = (i + 1 < n) ? i : i - 1;
    TRY_STATUS(MergeChildren(node, left));
    i = left;
    child = node->children[i].dirty.get();
    TRY_STATUS(FlushIfNeeded(child));
  }
  if (child->children.size() > options_.max_fanout) SplitChild(node, i);
  return Ok();
}

Status Tree::Impl::MergeChildren(Node* node, size_t left) {
  Node* l = TRY(MutableChild(node, left));
  Node* r = TRY(MutableChild(node, left + 1));
  if (l->IsLeaf()) {
    AppendLeaf(r->leaf, &l->leaf);
  } else {
    l->pivots.push_back(node->pivots[left]);
    for (auto& p : r->pivots) l->pivots.push_back(std::move(p));
    for (auto& c : r->children) l->children.push_back(std::move(c));
    l->RecomputePivotBytes();
  }
  ChildSlot& right_slot = node->children[left + 1];
  node->children[left].buffer.Absorb(std::move(right_slot.buffer));
  if (!right_slot.ptr.IsNull()) pending_free_.push_back(right_slot.ptr);
  node->pivots.erase(node->pivots.begin() + static_cast<ptrdiff_t>(left));
  node->children.erase(node->children.begin() + static_cast<ptrdiff_t>(left + 1));
  node->RecomputePivotBytes();
  merges_.fetch_add(1, std::memory_order_relaxed);
  return Ok();
}

void Tree::Impl::SplitChild(Node* node, size_t i) {
  Node* child = node->children[i].dirty.get();
  std::vector<std::unique_ptr<Node>> pieces;  // pieces after the first
  std::vector<std::string> seps;
  if (child->IsLeaf()) {
    size_t bytes = child->leaf.bytes();
    size_t per_piece = std::max<size_t>(1, options_.node_size * 3 / 4);
    size_t k = std::max<size_t>(2, (bytes + per_piece - 1) / per_piece);
    std::vector<Leaf> leaves = SplitLeaf(child->leaf, k);
    if (leaves.size() < 2) return;
    child->leaf = std::move(leaves[0]);
    for (size_t p = 1; p < leaves.size(); ++p) {
      seps.emplace_back(leaves[p].key(0));
      auto piece = std::make_unique<Node>();
      piece->leaf = std::move(leaves[p]);
      pieces.push_back(std::move(piece));
    }
  } else {
    size_t n = child->children.size();
    size_t k = std::max<size_t>(2, (n + options_.max_fanout - 1) / options_.max_fanout);
    // Cut positions: piece p holds children [starts[p], starts[p+1]).
    std::vector<size_t> starts;
    for (size_t p = 0; p < k; ++p) starts.push_back(p * n / k);
    starts.push_back(n);
    for (size_t p = 1; p < k; ++p) {
      auto piece = std::make_unique<Node>();
      piece->level = child->level;
      for (size_t c = starts[p]; c < starts[p + 1]; ++c) {
        piece->children.push_back(std::move(child->children[c]));
        if (c > starts[p]) piece->pivots.push_back(std::move(child->pivots[c - 1]));
      }
      piece->RecomputePivotBytes();
      seps.push_back(std::move(child->pivots[starts[p] - 1]));
      pieces.push_back(std::move(piece));
    }
    child->children.resize(starts[1]);
    child->pivots.resize(starts[1] - 1);
    child->RecomputePivotBytes();
  }
  // Split the parent's buffer for this child to match, last piece first.
  std::vector<Buffer> buffers(pieces.size());
  for (size_t p = pieces.size(); p-- > 0;) {
    buffers[p] = node->children[i].buffer.SplitOff(seps[p]);
  }
  std::vector<ChildSlot> slots(pieces.size());
  for (size_t p = 0; p < pieces.size(); ++p) {
    slots[p].dirty = std::move(pieces[p]);
    slots[p].buffer = std::move(buffers[p]);
  }
  auto at = node->children.begin() + static_cast<ptrdiff_t>(i + 1);
  node->children.insert(at, std::make_move_iterator(slots.begin()),
                        std::make_move_iterator(slots.end()));
  node->pivots.insert(node->pivots.begin() + static_cast<ptrdiff_t>(i),
                      std::make_move_iterator(seps.begin()), std::make_move_iterator(seps.end()));
  node->RecomputePivotBytes();
  splits_.fetch_add(1, std::memory_order_relaxed);
}

Status Tree::Impl::FixRoot() {
  while (true) {
    if (root_->IsLeaf()) {
      if (root_->SerializedBytes() <= options_.node_size || root_->leaf.count() < 2) break;
    } else {
      TRY_STATUS(FlushIfNeeded(root_.get()));
      if (root_->children.size() == 1 && root_->children[0].buffer.empty()) {
        Node* child = TRY(MutableChild(root_.get(), 0));
        (void)child;
        if (!root_old_ptr_.IsNull()) pending_free_.push_back(root_old_ptr_);
        root_old_ptr_ = root_->children[0].ptr;
        std::unique_ptr<Node> next = std::move(root_->children[0].dirty);
        root_ = std::move(next);
        continue;
      }
      if (root_->children.size() <= options_.max_fanout) break;
    }
    // Grow: the old root becomes the only child of a new root, then splits.
    auto grown = std::make_unique<Node>();
    grown->level = root_->level + 1;
    grown->children.resize(1);
    grown->children[0].ptr = root_old_ptr_;
    grown->children[0].dirty = std::move(root_);
    root_old_ptr_ = BlockPtr{};
    root_ = std::move(grown);
    SplitChild(root_.get(), 0);
  }
  height_.store(root_->level + 1, std::memory_order_relaxed);
  return Ok();
}

}  // namespace tessera
