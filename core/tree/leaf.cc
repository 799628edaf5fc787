// Leaves as sorted flat arrays, and the node-level helpers around them.
//
// Design notes
//  1. Leaf entries live in one arena string in key order; offsets_[i] is the
//     start of entry i. No per-entry heap allocation.
//  2. A leaf is never edited in place: applying a buffer merges the old
//     entries with the sorted messages into a new arena in O(leaf + batch).
//  3. Range-deletes of a batch are older than its point messages, so the
//     merge drops range-covered leaf entries first and then applies points.
//  4. SplitLeaf cuts at entry boundaries into pieces of about equal bytes;
//     every piece is non-empty.
#include <algorithm>

#include "core/tree/node.h"
#include "core/util/endian.h"

namespace tessera {

std::string_view Leaf::key(size_t i) const {
  const char* p = arena_.data() + offsets_[i];
  uint16_t klen = GetU16(reinterpret_cast<const std::byte*>(p));
  return {p + kLeafEntryOverhead, klen};
}

std::string_view Leaf::value(size_t i) const {
  const char* p = arena_.data() + offsets_[i];
  uint16_t klen = GetU16(reinterpret_cast<const std::byte*>(p));
  uint32_t vlen = GetU32(reinterpret_cast<const std::byte*>(p + 2));
  return {p + kLeafEntryOverhead + klen, vlen};
}

size_t Leaf::LowerBound(std::string_view k) const {
  size_t lo = 0;
  size_t hi = offsets_.size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (CompareKeys(key(mid), k) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

size_t Leaf::LowerBoundFrom(size_t from, std::string_view k) const {
  const size_t n = offsets_.size();
  size_t lo = from;
  size_t step = 1;
  size_t hi = from;
  // Gallop to bracket the answer in [lo, hi], then binary search.
  while (hi < n && CompareKeys(key(hi), k) < 0) {
    lo = hi + 1;
    hi = from + step;
    step *= 2;
  }
  if (hi > n) hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (CompareKeys(key(mid), k) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

void Leaf::AppendRange(const Leaf& from, size_t begin, size_t end) {
  if (begin >= end) return;
  size_t start = from.offsets_[begin];
  size_t stop = end < from.offsets_.size() ? from.offsets_[end] : from.arena_.size();
  int64_t shift = static_cast<int64_t>(arena_.size()) - static_cast<int64_t>(start);
  for (size_t i = begin; i < end; ++i) {
    offsets_.push_back(static_cast<uint32_t>(from.offsets_[i] + shift));
  }
  arena_.append(from.arena_, start, stop - start);
}

void Leaf::Append(std::string_view k, std::string_view v) {
  offsets_.push_back(static_cast<uint32_t>(arena_.size()));
  std::byte head[kLeafEntryOverhead];
  PutU16(head, static_cast<uint16_t>(k.size()));
  PutU32(head + 2, static_cast<uint32_t>(v.size()));
  arena_.append(reinterpret_cast<const char*>(head), sizeof(head));
  arena_.append(k);
  arena_.append(v);
}

void Leaf::Reserve(size_t bytes, size_t count) {
  arena_.reserve(bytes);
  offsets_.reserve(count);
}

void Leaf::Adopt(std::string arena, std::vector<uint32_t> offsets) {
  arena_ = std::move(arena);
  offsets_ = std::move(offsets);
}

void ApplyBufferToLeaf(const MessageActions& actions, const Buffer::Ranges& ranges,
                       const Buffer::Points& points, Leaf* leaf) {
  Leaf out;
  size_t point_bytes = 0;
  for (const auto& [k, m] : points) point_bytes += kLeafEntryOverhead + k.size() + m.payload.size();
  out.Reserve(leaf->bytes() + point_bytes, leaf->count() + points.size());

  auto rit = ranges.begin();
  // Keys are visited in increasing order, so the range cursor only advances.
  auto deleted = [&](std::string_view k) {
    while (rit != ranges.end() && rit->second <= k) ++rit;
    return rit != ranges.end() && rit->first <= k;
  };
  auto emit = [&](std::string_view k, std::optional<std::string_view> base, const Message& m) {
    switch (m.type) {
      case MsgType::kInsert:
        out.Append(k, m.payload);
        return;
      case MsgType::kDelete:
        return;
      case MsgType::kUpsert: {
        auto v = ApplyUpsertOps(actions, base, m.payload);
        if (v) out.Append(k, *v);
        return;
      }
    }
  };

  size_t li = 0;
  const size_t n = leaf->count();
  const bool no_ranges = ranges.empty();
  auto pit = points.begin();
  while (li < n || pit != points.end()) {
    if (no_ranges && li < n) {
      // Copy the run of untouched entries before the next message at once.
      size_t run_end = pit == points.end() ? n : leaf->LowerBoundFrom(li, pit->first);
      out.AppendRange(*leaf, li, run_end);
      li = run_end;
      if (pit == points.end()) break;
    }
    if (pit == points.end() || (li < n && CompareKeys(leaf->key(li), pit->first) < 0)) {
      std::string_view k = leaf->key(li);
      if (!deleted(k)) out.Append(k, leaf->value(li));
      ++li;
    } else if (li < n && leaf->key(li) == pit->first) {
      std::string_view k = leaf->key(li);
      std::optional<std::string_view> base;
      if (!deleted(k)) base = leaf->value(li);
      emit(k, base, pit->second);
      ++li;
      ++pit;
    } else {
      emit(pit->first, std::nullopt, pit->second);
      ++pit;
    }
  }
  *leaf = std::move(out);
}

std::vector<Leaf> SplitLeaf(const Leaf& leaf, size_t pieces) {
  pieces = std::max<size_t>(1, std::min(pieces, leaf.count()));
  std::vector<Leaf> out(pieces);
  const size_t target = leaf.bytes() / pieces;
  size_t piece = 0;
  size_t acc = 0;
  const size_t n = leaf.count();
  for (size_t i = 0; i < n; ++i) {
    // Move to the next piece when this one is full, keeping enough entries
    // for the remaining pieces to be non-empty.
    size_t remaining_entries = n - i;
    size_t remaining_pieces = pieces - piece - 1;
    if (!out[piece].empty() && remaining_pieces > 0 &&
        (acc >= target || remaining_entries <= remaining_pieces)) {
      ++piece;
      acc = 0;
    }
    std::string_view k = leaf.key(i);
    std::string_view v = leaf.value(i);
    out[piece].Append(k, v);
    acc += kLeafEntryOverhead + k.size() + v.size();
  }
  return out;
}

void AppendLeaf(const Leaf& from, Leaf* to) {
  to->Reserve(to->bytes() + from.bytes(), to->count() + from.count());
  for (size_t i = 0; i < from.count(); ++i) to->Append(from.key(i), from.value(i));
}

// ---- Node helpers ----

size_t Node::ChildIndex(std::string_view key) const {
  return static_cast<size_t>(std::upper_bound(pivots.begin(), pivots.end(), key, KeyLess{}) -
                             pivots.begin());
}

KeyRange Node::ChildRange(size_t i, KeyRange self) const {
  KeyRange r = self;
  if (i > 0) r.lo = pivots[i - 1];
  if (i + 1 < children.size()) r.hi = pivots[i];
  return r;
}

size_t Node::SerializedBytes() const {
  if (IsLeaf()) return kNodeHeaderBytes + leaf.bytes();
  // The codec writes short pointers unless a child has a third copy (codec.cc,
  // design note 4).
  bool more = false;
  for (const auto& c : children) more |= c.ptr.more_copies[0] != 0;
  size_t total = kNodeHeaderBytes + children.size() * (more ? kBlockPtrEncodedSize : kBlockPtrV2EncodedSize) +
                 pivot_bytes_;
  for (const auto& c : children) total += c.buffer.bytes();
  return total;
}

size_t Node::MemoryBytes() const {
  if (IsLeaf()) return sizeof(Node) + leaf.MemoryBytes();
  size_t total = sizeof(Node) + SerializedBytes();
  // std::map node overhead per buffered message.
  for (const auto& c : children) total += c.buffer.points().size() * 80 + sizeof(ChildSlot);
  return total;
}

size_t Node::FullestBuffer() const {
  size_t best = 0;
  for (size_t i = 1; i < children.size(); ++i) {
    if (children[i].buffer.bytes() > children[best].buffer.bytes()) best = i;
  }
  return best;
}

std::unique_ptr<Node> Node::CloneClean() const {
  auto copy = std::make_unique<Node>();
  copy->level = level;
  copy->leaf = leaf;
  copy->pivots = pivots;
  copy->pivot_bytes_ = pivot_bytes_;
  copy->children.resize(children.size());
  for (size_t i = 0; i < children.size(); ++i) {
    copy->children[i].ptr = children[i].ptr;
    copy->children[i].buffer = children[i].buffer;
  }
  return copy;
}

void Node::RecomputePivotBytes() {
  pivot_bytes_ = 0;
  for (const auto& p : pivots) AddPivotBytes(p);
}

}  // namespace tessera
