// PagePool: 4 KiB-aligned 4 KiB buffers carved from 256 KiB slabs, for page
// caches that hold many of them.
//
// Why: a 4 KiB-aligned 4 KiB allocation from malloc (aligned_alloc) splits a
// chunk of over 8 KiB and leaves the unaligned front as a free fragment that
// only smaller allocations can reuse, so a cache of N pages held about twice
// N pages of memory, outside any budget that counted N.
//
// Contract
//  1. Allocate returns a 4 KiB-aligned page (contents undefined), never
//     null (std::bad_alloc when memory is exhausted, as new does).
//  2. Release(page) gives it back; a slab whose pages are all back is freed
//     to the system at once.
//  3. Pages come from the fullest slab that has a free one, so that slabs
//     empty out and can be freed.
//  4. Thread-safe (one mutex); the process-wide pool is never destroyed.
//  5. slab_bytes() is the memory the pool holds: what it costs, counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

namespace tessera {

class PagePool {
 public:
  static constexpr size_t kPageBytes = 4096;
  static constexpr size_t kSlabBytes = 256 << 10;
  static constexpr size_t kPagesPerSlab = kSlabBytes / kPageBytes;

  static PagePool& Shared();

  std::byte* Allocate();
  void Release(std::byte* page);
  uint64_t slab_bytes() const;

 private:
  struct Slab {
    std::vector<std::byte*> free;  // pages not handed out
  };
  void IndexLocked(std::byte* base, size_t free_count, size_t old_free_count);

  mutable std::mutex mu_;
  std::unordered_map<uintptr_t, Slab> slabs_;  // GUARDED_BY(mu_) by base address
  // Slabs with a free page, by free count (fewest first: the fullest).
  std::set<std::pair<size_t, uintptr_t>> with_free_;  // GUARDED_BY(mu_)
};

}  // namespace tessera
