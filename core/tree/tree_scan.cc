// Range scan.
//
// Design notes
//  1. The scan walks the tree depth-first in key order, keeping the stack of
//     ancestor buffers (root first) that cover the current node.
//  2. At each leaf it materializes the final contents of R = [lo, hi) ∩ the
//     leaf's key range: start from the leaf's entries in R, then apply the
//     ancestor buffers from the lowest (oldest) to the root (newest); each
//     buffer applies its range-deletes first, then its point messages.
//     Every key belongs to exactly one leaf range, so buffered keys with no
//     leaf entry are produced exactly once.
//  3. R is processed in chunks of leaf entries; cost per chunk is O(chunk +
//     buffered messages in the chunk's key range + log of buffer sizes).
//  4. Runs under mu_ shared; children are resolved through the cache, and
//     every node on the current path stays pinned.
#include <deque>
#include <mutex>

#include "core/tree/tree_impl.h"

namespace tessera {
namespace {

struct Entry {
  std::string_view key;
  std::string_view value;
};

struct ScanState {
  const MessageActions* actions;
  const ScanFn* fn;
  KeyRange want;
  std::vector<const Buffer*> buffers;  // ancestors, root first
  std::deque<std::string> owned;       // upsert results referenced by entries
  bool stopped = false;
};

// Applies one buffer's messages within `r` to the sorted entries `in`.
void ApplyBuffer(ScanState& st, const Buffer& buf, KeyRange r, const std::vector<Entry>& in,
                 std::vector<Entry>* out) {
  out->clear();
  const auto& points = buf.points();
  const auto& ranges = buf.ranges();
  auto pit = points.lower_bound(r.lo);
  auto pend = r.hi.empty() ? points.end() : points.lower_bound(r.hi);
  auto rit = ranges.upper_bound(r.lo);
  if (rit != ranges.begin()) --rit;
  auto deleted = [&](std::string_view k) {
    while (rit != ranges.end() && rit->second <= k) ++rit;
    return rit != ranges.end() && rit->first <= k;
  };
  auto emit = [&](std::string_view k, std::optional<std::string_view> base, const Message& m) {
    switch (m.type) {
      case MsgType::kInsert:
        out->push_back({k, m.payload});
        return;
      case MsgType::kDelete:
        return;
      case MsgType::kUpsert: {
        auto v = ApplyUpsertOps(*st.actions, base, m.payload);
        if (v) {
          st.owned.push_back(std::move(*v));
          out->push_back({k, st.owned.back()});
        }
        return;
      }
    }
  };
  size_t i = 0;
  while (i < in.size() || pit != pend) {
    if (pit == pend || (i < in.size() && in[i].key < pit->first)) {
      if (!deleted(in[i].key)) out->push_back(in[i]);
      ++i;
    } else if (i < in.size() && in[i].key == pit->first) {
      std::optional<std::string_view> base;
      if (!deleted(in[i].key)) base = in[i].value;
      emit(pit->first, base, pit->second);
      ++i;
      ++pit;
    } else {
      emit(pit->first, std::nullopt, pit->second);
      ++pit;
    }
  }
}

}  // namespace

namespace {

Status ScanNode(const Tree::Impl& t, ScanState& st, const Node* node, KeyRange self);

Status ScanLeaf(ScanState& st, const Leaf& leaf, KeyRange self) {
  KeyRange r = self.Intersect(st.want);
  if (r.Empty()) return Ok();
  // Materialize in chunks of kChunkEntries leaf entries, so a short scan
  // does not pay for the whole leaf (note 3).
  constexpr size_t kChunkEntries = 64;
  std::vector<Entry> cur, next;
  size_t i = leaf.LowerBound(r.lo);
  std::string_view chunk_lo = r.lo;
  while (!st.stopped) {
    KeyRange chunk{chunk_lo, r.hi};
    size_t end = i;
    while (end < leaf.count() && end - i < kChunkEntries &&
           (r.hi.empty() || leaf.key(end) < r.hi)) {
      ++end;
    }
    bool last = end >= leaf.count() || (!r.hi.empty() && leaf.key(end) >= r.hi);
    if (!last) chunk.hi = leaf.key(end);
    cur.clear();
    for (size_t j = i; j < end; ++j) cur.push_back({leaf.key(j), leaf.value(j)});
    for (auto it = st.buffers.rbegin(); it != st.buffers.rend(); ++it) {
      if ((*it)->empty()) continue;
      ApplyBuffer(st, **it, chunk, cur, &next);
      cur.swap(next);
    }
    for (const Entry& e : cur) {
      if (!(*st.fn)(e.key, e.value)) {
        st.stopped = true;
        break;
      }
    }
    st.owned.clear();
    if (last) break;
    chunk_lo = chunk.hi;
    i = end;
  }
  return Ok();
}

Status ScanNode(const Tree::Impl& t, ScanState& st, const Node* node, KeyRange self) {
  if (node->IsLeaf()) return ScanLeaf(st, node->leaf, self);
  size_t first = node->ChildIndex(st.want.lo);
  for (size_t i = first; i < node->children.size() && !st.stopped; ++i) {
    KeyRange child = node->ChildRange(i, self);
    if (!st.want.hi.empty() && child.lo >= st.want.hi && i > first) break;
    const ChildSlot& slot = node->children[i];
    std::shared_ptr<const Node> hold;
    const Node* next = slot.dirty.get();
    if (next == nullptr) {
      hold = TRY(t.LoadNode(slot.ptr, node->level - 1));
      next = hold.get();
    }
    st.buffers.push_back(&slot.buffer);
    Status s = ScanNode(t, st, next, child);
    st.buffers.pop_back();
    TRY_STATUS(s);
  }
  return Ok();
}

}  // namespace

Status Tree::Impl::Scan(std::string_view lo, std::string_view hi, const ScanFn& fn) const {
  auto lock = ReadLock();
  if (freed_) return Err(Code::kInvalidArgument, "tree was freed");
  if (!hi.empty() && hi <= lo) return Ok();
  ScanState st{actions_, &fn, KeyRange{lo, hi}, {}, {}, false};
  return ScanNode(*this, st, root_.get(), KeyRange{});
}

Status Tree::Impl::ScanSubtreeLocked(const Node* node, KeyRange self,
                                     const std::vector<const Buffer*>& ancestors, KeyRange want,
                                     const ScanFn& fn) const {
  ScanState st{actions_, &fn, want, ancestors, {}, false};
  return ScanNode(*this, st, node, self);
}

}  // namespace tessera
