// Point lookup.
//
// Design notes
//  1. Descend from the root along the key's path. At each internal node the
//     child's buffer is consulted: an insert or delete ends the search (it is
//     newer than everything below), an upsert is remembered and the search
//     continues; a covering range-delete (older than the buffer's points)
//     ends it with "absent".
//  2. Remembered upserts are applied oldest first (bottom-up) to the base
//     value found (the leaf entry, an insert, or absent).
//  3. Runs under mu_ shared; every node visited stays pinned (holds) until
//     the result is computed, because remembered op lists point into it.
#include <mutex>

#include "core/tree/tree_impl.h"

namespace tessera {

Result<std::optional<std::string>> Tree::Impl::Get(std::string_view key) const {
  auto lock = ReadLock();
  if (freed_) return Err(Code::kInvalidArgument, "tree was freed");
  std::vector<std::shared_ptr<const Node>> holds;
  std::vector<std::string_view> upserts;  // newest first
  std::optional<std::string_view> base;
  const Node* node = root_.get();
  while (true) {
    if (node->IsLeaf()) {
      size_t i = node->leaf.LowerBound(key);
      if (i < node->leaf.count() && node->leaf.key(i) == key) base = node->leaf.value(i);
      break;
    }
    size_t i = node->ChildIndex(key);
    const ChildSlot& slot = node->children[i];
    const Message* msg = slot.buffer.Find(key);
    if (msg != nullptr) {
      if (msg->type == MsgType::kInsert) {
        base = msg->payload;
        break;
      }
      if (msg->type == MsgType::kDelete) break;
      upserts.push_back(msg->payload);
    }
    if (slot.buffer.RangeCovers(key)) break;
    if (slot.dirty) {
      node = slot.dirty.get();
    } else {
      holds.push_back(TRY(LoadNode(slot.ptr, node->level - 1)));
      node = holds.back().get();
    }
  }
  std::optional<std::string> value;
  if (base) value.emplace(*base);
  for (auto it = upserts.rbegin(); it != upserts.rend(); ++it) {
    std::optional<std::string_view> old;
    if (value) old = *value;
    value = ApplyUpsertOps(*actions_, old, *it);
  }
  return value;
}

}  // namespace tessera
