#include "core/util/page_pool.h"

#include <cstdlib>
#include <new>

namespace tessera {

PagePool& PagePool::Shared() {
  static PagePool* pool = new PagePool();  // contract 4: outlives every cache
  return *pool;
}

void PagePool::IndexLocked(std::byte* base, size_t free_count, size_t old_free_count) {
  const auto key = reinterpret_cast<uintptr_t>(base);
  if (old_free_count > 0) with_free_.erase({old_free_count, key});
  if (free_count > 0) with_free_.insert({free_count, key});
}

std::byte* PagePool::Allocate() {
  std::lock_guard lock(mu_);
  if (with_free_.empty()) {
    // A slab this large is mapped by itself, so freeing it returns it to the
    // system (contract 2).
    auto* base = static_cast<std::byte*>(std::aligned_alloc(kSlabBytes, kSlabBytes));
    if (base == nullptr) throw std::bad_alloc();
    Slab& slab = slabs_[reinterpret_cast<uintptr_t>(base)];
    slab.free.reserve(kPagesPerSlab);
    for (size_t i = kPagesPerSlab; i-- > 0;) slab.free.push_back(base + i * kPageBytes);
    IndexLocked(base, kPagesPerSlab, 0);
  }
  const uintptr_t key = with_free_.begin()->second;  // contract 3: the fullest
  Slab& slab = slabs_.at(key);
  std::byte* page = slab.free.back();
  slab.free.pop_back();
  IndexLocked(reinterpret_cast<std::byte*>(key), slab.free.size(), slab.free.size() + 1);
  return page;
}

void PagePool::Release(std::byte* page) {
  if (page == nullptr) return;
  const uintptr_t key = reinterpret_cast<uintptr_t>(page) & ~(uintptr_t{kSlabBytes} - 1);
  std::lock_guard lock(mu_);
  Slab& slab = slabs_.at(key);
  slab.free.push_back(page);
  const size_t free_count = slab.free.size();
  if (free_count == kPagesPerSlab) {
    IndexLocked(reinterpret_cast<std::byte*>(key), 0, free_count - 1);
    slabs_.erase(key);
    std::free(reinterpret_cast<void*>(key));
    return;
  }
  IndexLocked(reinterpret_cast<std::byte*>(key), free_count, free_count - 1);
}

uint64_t PagePool::slab_bytes() const {
  std::lock_guard lock(mu_);
  return slabs_.size() * kSlabBytes;
}

}  // namespace tessera
