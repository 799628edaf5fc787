// In-memory form of B-epsilon tree nodes: leaves, per-child message buffers,
// and internal nodes. Internal to core/tree; other layers see only `Node` as
// an opaque type held by NodeCache.
//
// Design notes
//  1. A leaf is a sorted flat array: one arena string holding entries
//     `u16 key_len | u32 value_len | key | value` in key order, plus a vector
//     of entry offsets. The arena is exactly the leaf's on-disk payload, so a
//     leaf's serialized size is known without serializing.
//  2. An internal node of level L >= 1 has n >= 1 children and n-1 strictly
//     increasing pivots; child i holds keys in [pivots[i-1], pivots[i]) (open
//     ends at the node's own bounds). pivots[i] is routed to child i+1.
//  3. Each child slot owns a Buffer of messages for that child's key range.
//     Everything in a buffer is newer than everything below it.
//  4. Within one buffer there is at most one point message per key (a newer
//     message is combined into the older one, see Buffer::Put), and every
//     range-delete of the buffer is older than every point message of the
//     buffer inside its range. Range-deletes are disjoint, non-adjacent and
//     clipped to the child's key range.
//  5. A child slot has `ptr` (the last written version, null if never
//     written) and `dirty` (a modified copy owned by this parent, or null).
//     When `dirty` is set, `ptr` is the old version, freed at the next Sync.
//     Clean nodes (shared through NodeCache) never have dirty children.
//  6. Size estimates (`SerializedBytes`) are maintained incrementally and
//     equal the encoded size of the node before compression.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tree/message_action.h"
#include "core/tree/node_store.h"

namespace tessera {

// Encoded-size constants shared by the size estimates and the codec.
inline constexpr size_t kNodeHeaderBytes = 32;
inline constexpr size_t kLeafEntryOverhead = 2 + 4;      // key_len, value_len
inline constexpr size_t kPivotOverhead = 2;              // key_len
inline constexpr size_t kBufferHeaderBytes = 4 + 4;      // point count, range count
inline constexpr size_t kPointOverhead = 2 + 1 + 4;      // key_len, type, payload_len
inline constexpr size_t kRangeOverhead = 2 + 2;          // lo_len, hi_len
inline constexpr size_t kUpsertOpOverhead = 1 + 4;       // action id, param_len

// Byte-wise key order (same as std::string_view's), with an inline fast path
// on the first 8 bytes: most keys differ there, and this avoids a memcmp call.
inline int CompareKeys(std::string_view a, std::string_view b) {
  if (a.size() >= 8 && b.size() >= 8) {
    uint64_t x, y;
    std::memcpy(&x, a.data(), 8);
    std::memcpy(&y, b.data(), 8);
    if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
  }
  return a.compare(b);
}

// The first 8 bytes of a key as a big-endian integer (zero-padded). Ordering
// by prefix is consistent with byte-wise key order; equal prefixes need a
// full comparison.
inline uint64_t KeyPrefix(std::string_view k) {
  uint64_t x = 0;
  if (!k.empty()) std::memcpy(&x, k.data(), k.size() < 8 ? k.size() : 8);  // data() may be null
  return __builtin_bswap64(x);
}

// A buffered key: the string plus its cached prefix, so map searches compare
// inside the map node and rarely touch the key's heap bytes.
struct BufKey : std::string {
  explicit BufKey(std::string s) : std::string(std::move(s)), prefix(KeyPrefix(*this)) {}
  uint64_t prefix;
};

struct KeyLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return CompareKeys(a, b) < 0; }
  bool operator()(const BufKey& a, const BufKey& b) const {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return std::string_view(a) < std::string_view(b);
  }
  bool operator()(const BufKey& a, std::string_view b) const {
    uint64_t pb = KeyPrefix(b);
    if (a.prefix != pb) return a.prefix < pb;
    return std::string_view(a) < b;
  }
  bool operator()(std::string_view a, const BufKey& b) const {
    uint64_t pa = KeyPrefix(a);
    if (pa != b.prefix) return pa < b.prefix;
    return a < std::string_view(b);
  }
};

enum class MsgType : uint8_t { kInsert = 1, kDelete = 2, kUpsert = 3 };

struct Message {
  MsgType type = MsgType::kDelete;
  // kInsert: the value. kDelete: empty. kUpsert: an op list (oldest first) of
  // `u8 action | u32 param_len | param`.
  std::string payload;
};

void AppendUpsertOp(std::string* ops, ActionId action, std::string_view param);
// True when `ops` is a well-formed, non-empty op list.
bool ValidUpsertOps(std::string_view ops);
// Applies an op list (oldest first) to `base`. Precondition: ValidUpsertOps.
std::optional<std::string> ApplyUpsertOps(const MessageActions& actions,
                                          std::optional<std::string_view> base,
                                          std::string_view ops);
// The message that replaces `msg` once it has been applied to `base`
// (an insert of the result, or a delete when the result is absent).
Message ResolveMessage(const MessageActions& actions, std::optional<std::string_view> base,
                       const Message& msg);

// A key interval [lo, hi); an empty `hi` means "no upper bound".
struct KeyRange {
  std::string_view lo;
  std::string_view hi;  // empty: no upper bound
  bool Contains(std::string_view key) const { return key >= lo && (hi.empty() || key < hi); }
  bool Empty() const { return !hi.empty() && hi <= lo; }
  KeyRange Intersect(const KeyRange& other) const {
    KeyRange r{.lo = lo > other.lo ? lo : other.lo, .hi = hi};
    if (hi.empty() || (!other.hi.empty() && other.hi < hi)) r.hi = other.hi;
    return r;
  }
};

class Leaf {
 public:
  size_t count() const { return offsets_.size(); }
  bool empty() const { return offsets_.empty(); }
  std::string_view key(size_t i) const;
  std::string_view value(size_t i) const;
  // Serialized payload bytes (the arena).
  size_t bytes() const { return arena_.size(); }
  const std::string& arena() const { return arena_; }
  // First index whose key is >= `key`.
  size_t LowerBound(std::string_view key) const;
  // First index >= `from` whose key is >= `key` (galloping search).
  size_t LowerBoundFrom(size_t from, std::string_view key) const;
  // Precondition: `key` sorts after every key already present.
  void Append(std::string_view key, std::string_view value);
  // Appends entries [begin, end) of `from` in one copy. Precondition: they
  // sort after every key already present.
  void AppendRange(const Leaf& from, size_t begin, size_t end);
  void Reserve(size_t bytes, size_t count);
  // Takes a validated arena and its entry offsets (codec only).
  void Adopt(std::string arena, std::vector<uint32_t> offsets);
  size_t MemoryBytes() const { return arena_.capacity() + offsets_.capacity() * 4; }

 private:
  std::string arena_;
  std::vector<uint32_t> offsets_;
};

class Buffer {
 public:
  using Points = std::map<BufKey, Message, KeyLess>;
  using Ranges = std::map<std::string, std::string, KeyLess>;  // lo -> hi

  bool empty() const { return points_.empty() && ranges_.empty(); }
  // Serialized bytes, including the buffer header.
  size_t bytes() const { return bytes_; }
  const Points& points() const { return points_; }
  const Ranges& ranges() const { return ranges_; }

  // Adds a point message newer than everything in the buffer (invariant 4).
  void Put(std::string key, Message msg, const MessageActions& actions);
  void PutNode(Points::node_type node, const MessageActions& actions);
  // Adds a range-delete [lo, hi) newer than everything in the buffer: drops
  // the point messages inside it and coalesces with existing ranges.
  void AddRange(std::string_view lo, std::string_view hi);
  const Message* Find(std::string_view key) const;
  bool RangeCovers(std::string_view key) const;
  // Moves everything of `other` in; the two buffers' key ranges are disjoint.
  void Absorb(Buffer&& other);
  // Moves every message with key >= `sep` into the returned buffer (ranges
  // straddling `sep` are cut).
  Buffer SplitOff(std::string_view sep);
  // Empties the buffer, handing its contents to the caller.
  void TakeAll(Points* points, Ranges* ranges);

  // Codec: append in sorted order during decode (no combining).
  void AppendDecodedPoint(std::string key, Message msg);
  void AppendDecodedRange(std::string lo, std::string hi);

  static size_t PointBytes(std::string_view key, const Message& msg) {
    return kPointOverhead + key.size() + msg.payload.size();
  }
  static size_t RangeBytes(std::string_view lo, std::string_view hi) {
    return kRangeOverhead + lo.size() + hi.size();
  }

 private:
  void Combine(Message& older, Message&& newer, const MessageActions& actions);

  Points points_;
  Ranges ranges_;
  size_t bytes_ = kBufferHeaderBytes;
};

class Node;

struct ChildSlot {
  BlockPtr ptr;                 // last written version; old version while dirty
  std::unique_ptr<Node> dirty;  // modified copy owned by the parent, or null
  Buffer buffer;                // messages for this child
};

class Node {
 public:
  uint32_t level = 0;  // 0 = leaf
  Leaf leaf;           // level 0 only
  std::vector<std::string> pivots;    // internal only, children.size() - 1
  std::vector<ChildSlot> children;    // internal only

  bool IsLeaf() const { return level == 0; }
  size_t ChildIndex(std::string_view key) const;
  // Bounds of child i given this node's own range.
  KeyRange ChildRange(size_t i, KeyRange self) const;
  // Encoded size before compression (design note 6).
  size_t SerializedBytes() const;
  // Approximate heap footprint, charged to the cache.
  size_t MemoryBytes() const;
  // Index of the child with the largest buffer.
  size_t FullestBuffer() const;
  // Deep copy. Precondition: no dirty children (design note 5).
  std::unique_ptr<Node> CloneClean() const;

  void AddPivotBytes(std::string_view pivot) { pivot_bytes_ += kPivotOverhead + pivot.size(); }
  void RecomputePivotBytes();

 private:
  size_t pivot_bytes_ = 0;
};

// Leaf operations (leaf.cc).
// Applies a buffer's messages to a leaf: range-deletes first, then points.
void ApplyBufferToLeaf(const MessageActions& actions, const Buffer::Ranges& ranges,
                       const Buffer::Points& points, Leaf* leaf);
// Cuts a leaf into `pieces` leaves of roughly equal bytes, each non-empty.
// Precondition: leaf.count() >= pieces.
std::vector<Leaf> SplitLeaf(const Leaf& leaf, size_t pieces);
void AppendLeaf(const Leaf& from, Leaf* to);

}  // namespace tessera
