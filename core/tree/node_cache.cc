// NodeCache: a clock cache of clean decoded nodes, bounded in bytes.
//
// Design notes
//  1. Entries live in a slot vector scanned by the clock hand; an index maps
//     (address, checksum) to the slot. Freed slots are reused.
//  2. Pinned = someone besides the cache holds the shared_ptr
//     (use_count() > 1). Pinned entries are skipped, never evicted.
//  3. Eviction runs after every Insert and AddDirty while clean + dirty >
//     capacity: a referenced entry gets a second chance (ref cleared), an
//     unreferenced unpinned one is evicted. Two full sweeps without progress
//     stop it (everything pinned); the bound is then exceeded only by pinned
//     or dirty bytes.
//  4. Evicted nodes are destroyed after the mutex is released.
//  5. All state is guarded by mu_.
#include "core/tree/node_cache.h"

#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/tree/node.h"

namespace tessera {

class NodeCache::Impl {
 public:
  explicit Impl(uint64_t capacity) : capacity_(capacity) {}

  struct Key {
    uint64_t address;
    uint64_t checksum;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return k.address * 0x9E3779B97F4A7C15ull ^ k.checksum; }
  };
  struct Slot {
    Key key{};
    std::shared_ptr<const Node> node;
    uint64_t bytes = 0;
    bool ref = false;
  };

  // Evicts until under capacity; moves victims to `dead` for destruction
  // outside the lock.
  void EvictLocked(std::vector<std::shared_ptr<const Node>>* dead) {
    size_t idle_steps = 0;
    while (clean_ + dirty_ > capacity_ && clean_ > 0 && !slots_.empty() &&
           idle_steps < 2 * slots_.size()) {
      if (hand_ >= slots_.size()) hand_ = 0;
      Slot& s = slots_[hand_++];
      if (!s.node || s.node.use_count() > 1) {
        ++idle_steps;
        continue;
      }
      if (s.ref) {
        s.ref = false;
        ++idle_steps;
        continue;
      }
      RemoveLocked(static_cast<size_t>(&s - slots_.data()), dead);
      idle_steps = 0;
    }
  }

  void RemoveLocked(size_t slot, std::vector<std::shared_ptr<const Node>>* dead) {
    Slot& s = slots_[slot];
    index_.erase(s.key);
    clean_ -= s.bytes;
    dead->push_back(std::move(s.node));
    s = Slot{};
    free_.push_back(slot);
  }

  mutable std::mutex mu_;
  uint64_t capacity_;
  uint64_t clean_ = 0;
  uint64_t dirty_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  size_t hand_ = 0;
  std::vector<Slot> slots_;
  std::vector<size_t> free_;
  std::unordered_map<Key, size_t, KeyHash> index_;
};

NodeCache::NodeCache(uint64_t capacity_bytes) : impl_(std::make_unique<Impl>(capacity_bytes)) {}
NodeCache::~NodeCache() = default;

std::shared_ptr<const Node> NodeCache::Lookup(uint64_t address, uint64_t checksum) {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->index_.find({address, checksum});
  if (it == impl_->index_.end()) {
    ++impl_->misses_;
    return nullptr;
  }
  ++impl_->hits_;
  auto& slot = impl_->slots_[it->second];
  slot.ref = true;
  return slot.node;
}

void NodeCache::Insert(uint64_t address, uint64_t checksum, std::shared_ptr<const Node> node,
                       uint64_t bytes) {
  std::vector<std::shared_ptr<const Node>> dead;
  {
    std::lock_guard lock(impl_->mu_);
    Impl::Key key{address, checksum};
    auto it = impl_->index_.find(key);
    if (it != impl_->index_.end()) {
      impl_->slots_[it->second].ref = true;
      dead.push_back(std::move(node));  // same bytes, same node: keep the cached one
    } else {
      size_t slot;
      if (!impl_->free_.empty()) {
        slot = impl_->free_.back();
        impl_->free_.pop_back();
      } else {
        slot = impl_->slots_.size();
        impl_->slots_.emplace_back();
      }
      impl_->slots_[slot] = Impl::Slot{key, std::move(node), bytes, true};
      impl_->index_.emplace(key, slot);
      impl_->clean_ += bytes;
    }
    impl_->EvictLocked(&dead);
  }
}

void NodeCache::Erase(uint64_t address, uint64_t checksum) {
  std::vector<std::shared_ptr<const Node>> dead;
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->index_.find({address, checksum});
  if (it != impl_->index_.end()) impl_->RemoveLocked(it->second, &dead);
  // `dead` is declared before the lock, so nodes die after unlocking.
}

void NodeCache::AddDirty(uint64_t bytes) {
  std::vector<std::shared_ptr<const Node>> dead;
  std::lock_guard lock(impl_->mu_);
  impl_->dirty_ += bytes;
  impl_->EvictLocked(&dead);
}

void NodeCache::SubDirty(uint64_t bytes) {
  std::lock_guard lock(impl_->mu_);
  impl_->dirty_ -= bytes < impl_->dirty_ ? bytes : impl_->dirty_;
}

uint64_t NodeCache::capacity() const { return impl_->capacity_; }
uint64_t NodeCache::clean_bytes() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->clean_;
}
uint64_t NodeCache::dirty_bytes() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->dirty_;
}
uint64_t NodeCache::hits() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->hits_;
}
uint64_t NodeCache::misses() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->misses_;
}

}  // namespace tessera
