// Message buffers: the per-child queues of an internal node.
//
// Design notes
//  1. At most one point message per key. A newer message combines with the
//     older one (Buffer::Combine):
//       insert/delete over anything   -> replaces it
//       upsert over insert(v)         -> insert(apply(v)) or delete
//       upsert over delete            -> insert(apply(absent)) or delete
//       upsert over upsert            -> the op lists concatenated (oldest first)
//  2. Range-deletes are older than every point message inside them: adding a
//     range drops the points it covers. An upsert arriving for a key covered
//     by a range (and with no point message) resolves against "absent".
//  3. Ranges are disjoint and non-adjacent: AddRange coalesces.
//  4. bytes_ always equals the encoded size of the buffer (header + points +
//     ranges); every mutation adjusts it.
#include <algorithm>
#include <iterator>

#include "core/tree/node.h"
#include "core/util/endian.h"

namespace tessera {

void AppendUpsertOp(std::string* ops, ActionId action, std::string_view param) {
  std::byte head[kUpsertOpOverhead];
  head[0] = static_cast<std::byte>(action);
  PutU32(head + 1, static_cast<uint32_t>(param.size()));
  ops->append(reinterpret_cast<const char*>(head), sizeof(head));
  ops->append(param);
}

bool ValidUpsertOps(std::string_view ops) {
  if (ops.empty()) return false;
  size_t pos = 0;
  while (pos < ops.size()) {
    if (ops.size() - pos < kUpsertOpOverhead) return false;
    uint32_t len = GetU32(reinterpret_cast<const std::byte*>(ops.data() + pos + 1));
    pos += kUpsertOpOverhead;
    if (ops.size() - pos < len) return false;
    pos += len;
  }
  return true;
}

std::optional<std::string> ApplyUpsertOps(const MessageActions& actions,
                                          std::optional<std::string_view> base,
                                          std::string_view ops) {
  std::optional<std::string> value;
  if (base) value.emplace(*base);
  size_t pos = 0;
  while (pos + kUpsertOpOverhead <= ops.size()) {
    auto action = static_cast<ActionId>(ops[pos]);
    uint32_t len = GetU32(reinterpret_cast<const std::byte*>(ops.data() + pos + 1));
    pos += kUpsertOpOverhead;
    std::string_view param = ops.substr(pos, len);
    pos += len;
    std::optional<std::string_view> old;
    if (value) old = *value;
    value = actions.Apply(action, old, param);
  }
  return value;
}

Message ResolveMessage(const MessageActions& actions, std::optional<std::string_view> base,
                       const Message& msg) {
  switch (msg.type) {
    case MsgType::kInsert:
    case MsgType::kDelete:
      return msg;
    case MsgType::kUpsert:
      break;
  }
  auto value = ApplyUpsertOps(actions, base, msg.payload);
  if (!value) return Message{MsgType::kDelete, {}};
  return Message{MsgType::kInsert, std::move(*value)};
}

void Buffer::Combine(Message& older, Message&& newer, const MessageActions& actions) {
  if (newer.type != MsgType::kUpsert) {
    older = std::move(newer);
    return;
  }
  switch (older.type) {
    case MsgType::kInsert:
      older = ResolveMessage(actions, std::string_view(older.payload), newer);
      break;
    case MsgType::kDelete:
      older = ResolveMessage(actions, std::nullopt, newer);
      break;
    case MsgType::kUpsert:
      older.payload.append(newer.payload);
      break;
  }
}

void Buffer::Put(std::string key, Message msg, const MessageActions& actions) {
  auto it = points_.lower_bound(std::string_view(key));
  if (it == points_.end() || std::string_view(it->first) != key) {
    if (msg.type == MsgType::kUpsert && RangeCovers(key)) {
      msg = ResolveMessage(actions, std::nullopt, msg);
    }
    bytes_ += PointBytes(key, msg);
    points_.emplace_hint(it, BufKey(std::move(key)), std::move(msg));
    return;
  }
  bytes_ -= PointBytes(it->first, it->second);
  Combine(it->second, std::move(msg), actions);
  bytes_ += PointBytes(it->first, it->second);
}

void Buffer::PutNode(Points::node_type node, const MessageActions& actions) {
  auto it = points_.lower_bound(node.key());
  if (it == points_.end() || std::string_view(it->first) != node.key()) {
    if (node.mapped().type == MsgType::kUpsert && RangeCovers(node.key())) {
      node.mapped() = ResolveMessage(actions, std::nullopt, node.mapped());
    }
    bytes_ += PointBytes(node.key(), node.mapped());
    points_.insert(it, std::move(node));
    return;
  }
  bytes_ -= PointBytes(it->first, it->second);
  Combine(it->second, std::move(node.mapped()), actions);
  bytes_ += PointBytes(it->first, it->second);
}

void Buffer::AddRange(std::string_view lo, std::string_view hi) {
  for (auto it = points_.lower_bound(lo); it != points_.end() && it->first < hi;) {
    bytes_ -= PointBytes(it->first, it->second);
    it = points_.erase(it);
  }
  std::string new_lo(lo);
  std::string new_hi(hi);
  auto it = ranges_.upper_bound(lo);
  if (it != ranges_.begin() && std::prev(it)->second >= lo) --it;
  while (it != ranges_.end() && it->first <= hi) {
    if (it->first < new_lo) new_lo = it->first;
    if (it->second > new_hi) new_hi = it->second;
    bytes_ -= RangeBytes(it->first, it->second);
    it = ranges_.erase(it);
  }
  bytes_ += RangeBytes(new_lo, new_hi);
  ranges_.emplace(std::move(new_lo), std::move(new_hi));
}

const Message* Buffer::Find(std::string_view key) const {
  auto it = points_.find(key);
  return it == points_.end() ? nullptr : &it->second;
}

bool Buffer::RangeCovers(std::string_view key) const {
  if (ranges_.empty()) return false;
  auto it = ranges_.upper_bound(key);
  if (it == ranges_.begin()) return false;
  --it;
  return key < it->second;
}

void Buffer::Absorb(Buffer&& other) {
  // Ranges first: they cover none of this buffer's points (disjoint key
  // ranges), and must not drop the other buffer's newer points.
  for (auto& [lo, hi] : other.ranges_) AddRange(lo, hi);
  for (auto& [key, msg] : other.points_) bytes_ += PointBytes(key, msg);
  points_.merge(other.points_);
  other.points_.clear();
  other.ranges_.clear();
  other.bytes_ = kBufferHeaderBytes;
}

Buffer Buffer::SplitOff(std::string_view sep) {
  Buffer right;
  for (auto it = points_.lower_bound(sep); it != points_.end();) {
    auto next = std::next(it);
    size_t b = PointBytes(it->first, it->second);
    bytes_ -= b;
    right.bytes_ += b;
    right.points_.insert(right.points_.end(), points_.extract(it));
    it = next;
  }
  auto it = ranges_.upper_bound(sep);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->first < sep && prev->second > sep) {
      right.AppendDecodedRange(std::string(sep), prev->second);
      bytes_ -= RangeBytes(prev->first, prev->second);
      prev->second = std::string(sep);
      bytes_ += RangeBytes(prev->first, prev->second);
    } else if (prev->first == sep) {
      it = prev;
    }
  }
  while (it != ranges_.end()) {
    bytes_ -= RangeBytes(it->first, it->second);
    right.AppendDecodedRange(it->first, it->second);
    it = ranges_.erase(it);
  }
  return right;
}

void Buffer::TakeAll(Points* points, Ranges* ranges) {
  *points = std::move(points_);
  *ranges = std::move(ranges_);
  points_.clear();
  ranges_.clear();
  bytes_ = kBufferHeaderBytes;
}

void Buffer::AppendDecodedPoint(std::string key, Message msg) {
  bytes_ += PointBytes(key, msg);
  points_.emplace_hint(points_.end(), BufKey(std::move(key)), std::move(msg));
}

void Buffer::AppendDecodedRange(std::string lo, std::string hi) {
  bytes_ += RangeBytes(lo, hi);
  ranges_.emplace_hint(ranges_.end(), std::move(lo), std::move(hi));
}

}  // namespace tessera
