// Tree diff (tree_diff.h).
//
// Design notes
//  1. The diff walks both trees at once. A side is a node, the key range it
//     covers (`self`), its on-disk pointer (null when the node exists only
//     in memory: a dirty root or dirty child of a live tree) and the stack
//     of its ancestors' buffers for it, root first.
//  2. Diff(a, b, R) compares the two sides over R, a subrange of both
//     sides' `self`. The pair is skipped when a.ptr == b.ptr (non-null) and
//     the pending messages of both stacks restricted to R are the same
//     sequence (PendingEqual): the same node under the same messages has
//     the same contents over R. This test is conservative: unequal stacks
//     with equal effect only cost a descent, never a wrong answer.
//  3. Otherwise, when both sides are internal nodes of one level, their
//     child lists are walked together (DescendBoth): R is cut at the pivots
//     of both, and a piece whose two children pass note 2's test is skipped
//     before either child is read. Trees of one shape thus meet child by
//     child and read only the changed paths. When the levels differ, the
//     higher side descends alone (DescendOne); trees of different shape
//     still give exact results, comparing pieces.
//  4. When both sides are leaves, each side's final contents over R are
//     materialized (Tree::Impl::ScanSubtreeLocked: leaf entries plus the
//     pending buffers) and merged in key order.
//  5. Every node on the current path stays pinned (shared_ptr holds) while
//     its subtree is compared; both trees' mu_ are held shared throughout.
#include "core/tree/tree_diff.h"

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/tree/tree_impl.h"

namespace tessera {
namespace {

struct Side {
  const Node* node = nullptr;
  KeyRange self;
  BlockPtr ptr;                        // null: in memory only (note 1)
  std::vector<const Buffer*> buffers;  // ancestors' buffers for node, root first
};

// The messages of one buffer that fall in a key range.
struct Pending {
  Buffer::Points::const_iterator points_begin, points_end;
  Buffer::Ranges::const_iterator ranges_begin, ranges_end;
  bool empty() const { return points_begin == points_end && ranges_begin == ranges_end; }
};

Pending Restrict(const Buffer& buf, KeyRange r) {
  Pending p;
  const auto& points = buf.points();
  const auto& ranges = buf.ranges();
  p.points_begin = points.lower_bound(r.lo);
  p.points_end = r.hi.empty() ? points.end() : points.lower_bound(r.hi);
  auto it = ranges.upper_bound(r.lo);
  if (it != ranges.begin() && std::prev(it)->second > r.lo) --it;
  p.ranges_begin = it;
  while (it != ranges.end() && (r.hi.empty() || it->first < r.hi)) ++it;
  p.ranges_end = it;
  return p;
}

bool SamePending(const Pending& a, const Pending& b, KeyRange r) {
  auto pa = a.points_begin;
  auto pb = b.points_begin;
  for (; pa != a.points_end && pb != b.points_end; ++pa, ++pb) {
    if (std::string_view(pa->first) != std::string_view(pb->first)) return false;
    if (pa->second.type != pb->second.type || pa->second.payload != pb->second.payload)
      return false;
  }
  if (pa != a.points_end || pb != b.points_end) return false;
  auto clip = [&](const std::pair<const std::string, std::string>& range) {
    std::string_view lo = range.first < r.lo ? r.lo : std::string_view(range.first);
    std::string_view hi = range.second;
    if (!r.hi.empty() && r.hi < hi) hi = r.hi;
    return std::pair(lo, hi);
  };
  auto ra = a.ranges_begin;
  auto rb = b.ranges_begin;
  for (; ra != a.ranges_end && rb != b.ranges_end; ++ra, ++rb) {
    if (clip(*ra) != clip(*rb)) return false;
  }
  return ra == a.ranges_end && rb == b.ranges_end;
}

// Note 2: the non-empty restrictions of both stacks, compared in order.
bool PendingEqual(const std::vector<const Buffer*>& a, const std::vector<const Buffer*>& b,
                  KeyRange r) {
  auto nonempty = [&](const std::vector<const Buffer*>& stack) {
    std::vector<Pending> out;
    for (const Buffer* buf : stack) {
      if (buf->empty()) continue;
      Pending p = Restrict(*buf, r);
      if (!p.empty()) out.push_back(p);
    }
    return out;
  };
  std::vector<Pending> pa = nonempty(a);
  std::vector<Pending> pb = nonempty(b);
  if (pa.size() != pb.size()) return false;
  for (size_t i = 0; i < pa.size(); i++) {
    if (!SamePending(pa[i], pb[i], r)) return false;
  }
  return true;
}

}  // namespace

class TreeDiffer {
 public:
  TreeDiffer(const Tree::Impl& a, const Tree::Impl& b, const DiffFn& fn) : a_(a), b_(b), fn_(fn) {}

  Result<TreeDiffStats> Run(std::string_view lo, std::string_view hi) {
    // Contract 3: lock in a fixed (address) order.
    const Tree::Impl* first = &a_ < &b_ ? &a_ : &b_;
    const Tree::Impl* second = &a_ < &b_ ? &b_ : &a_;
    auto lock1 = first->ReadLock();
    auto lock2 = second->ReadLock();
    if (a_.freed_ || b_.freed_) return Err(Code::kInvalidArgument, "tree was freed");
    if (!hi.empty() && hi <= lo) return stats_;
    Side a{a_.root_.get(), KeyRange{}, a_.root_dirty_ ? BlockPtr{} : a_.root_ptr_, {}};
    Side b{b_.root_.get(), KeyRange{}, b_.root_dirty_ ? BlockPtr{} : b_.root_ptr_, {}};
    TRY_STATUS(Diff(a, b, KeyRange{lo, hi}));
    return stats_;
  }

  static Result<TreeDiffStats> Diff(Tree& older, Tree& newer, std::string_view lo,
                                    std::string_view hi, const DiffFn& fn) {
    if (&older == &newer) return TreeDiffStats{};
    return TreeDiffer(*older.impl_, *newer.impl_, fn).Run(lo, hi);
  }

 private:
  Status Diff(const Side& a, const Side& b, KeyRange r) {
    if (stopped_ || r.Empty()) return Ok();
    if (!a.ptr.IsNull() && a.ptr == b.ptr && PendingEqual(a.buffers, b.buffers, r)) {
      stats_.subtrees_skipped++;
      return Ok();
    }
    if (a.node->IsLeaf() && b.node->IsLeaf()) return CompareLeaves(a, b, r);
    if (a.node->level == b.node->level) return DescendBoth(a, b, r);
    return a.node->level > b.node->level ? DescendOne(a, b, r, true) : DescendOne(b, a, r, false);
  }

  // The child `i` of side `s`, with its pointer and buffer stack; loaded
  // from the store (through the cache) unless `load` is false.
  Result<std::pair<Side, std::shared_ptr<const Node>>> Child(const Tree::Impl& tree, const Side& s,
                                                             size_t i, bool load) {
    const Node* node = s.node;
    const ChildSlot& slot = node->children[i];
    Side child{slot.dirty.get(), node->ChildRange(i, s.self), BlockPtr{}, s.buffers};
    child.buffers.push_back(&slot.buffer);
    std::shared_ptr<const Node> hold;
    if (child.node == nullptr) {
      child.ptr = slot.ptr;
      if (load) {
        hold = TRY(tree.LoadNode(slot.ptr, node->level - 1));
        child.node = hold.get();
        stats_.nodes_visited++;
      }
    }
    return std::pair{std::move(child), std::move(hold)};
  }

  // Note 3: `s` (side a when `s_is_a`) is higher; cut R at its pivots.
  Status DescendOne(const Side& s, const Side& other, KeyRange r, bool s_is_a) {
    const Tree::Impl& tree = s_is_a ? a_ : b_;
    const Node* node = s.node;
    for (size_t i = node->ChildIndex(r.lo); i < node->children.size() && !stopped_; ++i) {
      KeyRange piece = r.Intersect(node->ChildRange(i, s.self));
      if (piece.Empty()) break;
      auto [child, hold] = TRY(Child(tree, s, i, true));
      TRY_STATUS(s_is_a ? Diff(child, other, piece) : Diff(other, child, piece));
    }
    return Ok();
  }

  // Both sides at one level: walk the two child lists together, piece by
  // piece (a child range of a intersected with one of b); a piece whose two
  // children are pointer-equal under equal pending messages is skipped
  // before either child is read.
  Status DescendBoth(const Side& a, const Side& b, KeyRange r) {
    size_t i = a.node->ChildIndex(r.lo);
    size_t j = b.node->ChildIndex(r.lo);
    while (i < a.node->children.size() && j < b.node->children.size() && !stopped_) {
      KeyRange ra = a.node->ChildRange(i, a.self);
      KeyRange rb = b.node->ChildRange(j, b.self);
      KeyRange piece = r.Intersect(ra.Intersect(rb));
      if (!r.hi.empty() && piece.lo >= r.hi) break;
      if (!piece.Empty()) {
        auto [ca, hold_a] = TRY(Child(a_, a, i, false));
        auto [cb, hold_b] = TRY(Child(b_, b, j, false));
        if (!ca.ptr.IsNull() && ca.ptr == cb.ptr && PendingEqual(ca.buffers, cb.buffers, piece)) {
          stats_.subtrees_skipped++;
        } else {
          auto la = TRY(Child(a_, a, i, true));
          auto lb = TRY(Child(b_, b, j, true));
          TRY_STATUS(Diff(la.first, lb.first, piece));
        }
      }
      // Advance whichever child range ends first (both when they end together).
      bool a_ends = ra.hi.empty() ? false : (rb.hi.empty() || ra.hi <= rb.hi);
      bool b_ends = rb.hi.empty() ? false : (ra.hi.empty() || rb.hi <= ra.hi);
      if (!a_ends && !b_ends) break;  // both unbounded: last pieces done
      if (a_ends) ++i;
      if (b_ends) ++j;
    }
    return Ok();
  }

  using Entries = std::vector<std::pair<std::string, std::string>>;

  Result<Entries> Materialize(const Tree::Impl& tree, const Side& s, KeyRange r) {
    Entries out;
    TRY_STATUS(tree.ScanSubtreeLocked(s.node, s.self, s.buffers, r,
                                      [&](std::string_view k, std::string_view v) {
                                        out.emplace_back(k, v);
                                        return true;
                                      }));
    return out;
  }

  Status CompareLeaves(const Side& a, const Side& b, KeyRange r) {
    stats_.leaves_compared++;
    Entries ea = TRY(Materialize(a_, a, r));
    Entries eb = TRY(Materialize(b_, b, r));
    size_t i = 0, j = 0;
    while ((i < ea.size() || j < eb.size()) && !stopped_) {
      int c = i == ea.size() ? 1 : j == eb.size() ? -1 : CompareKeys(ea[i].first, eb[j].first);
      if (c < 0) {
        stopped_ = !fn_(ea[i].first, ea[i].second, std::nullopt);
        i++;
      } else if (c > 0) {
        stopped_ = !fn_(eb[j].first, std::nullopt, eb[j].second);
        j++;
      } else {
        if (ea[i].second != eb[j].second) stopped_ = !fn_(ea[i].first, ea[i].second, eb[j].second);
        i++;
        j++;
      }
    }
    return Ok();
  }

  const Tree::Impl& a_;
  const Tree::Impl& b_;
  const DiffFn& fn_;
  TreeDiffStats stats_;
  bool stopped_ = false;
};

Result<TreeDiffStats> DiffTrees(Tree& older, Tree& newer, std::string_view lo, std::string_view hi,
                                const DiffFn& fn) {
  return TreeDiffer::Diff(older, newer, lo, hi, fn);
}

}  // namespace tessera
