#include "core/util/memory_budget.h"

#include <unistd.h>

#include <algorithm>

namespace tessera {

void MemoryBudget::Join(Member* member) {
  std::lock_guard lock(mu_);
  members_.push_back(member);
}

void MemoryBudget::Leave(Member* member) {
  std::lock_guard lock(mu_);
  std::erase(members_, member);
}

void MemoryBudget::Reclaim() {
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || !Over()) return;  // contract 3
  const uint64_t slack = limit_ / 32;
  const uint64_t target = limit_ > slack ? limit_ - slack : 0;
  std::vector<std::pair<uint64_t, Member*>> by_size;
  by_size.reserve(members_.size());
  for (Member* m : members_) by_size.emplace_back(m->held_bytes(), m);
  std::sort(by_size.begin(), by_size.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  uint64_t dropped = 0;
  for (auto& [held, member] : by_size) {
    uint64_t now = used();
    if (now <= target) break;
    dropped += member->Shed(now - target);
  }
  if (dropped > 0) {
    reclaims_.fetch_add(1, std::memory_order_relaxed);
    reclaimed_bytes_.fetch_add(dropped, std::memory_order_relaxed);
  }
}

uint64_t MachineMemoryBytes() {
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long page_size = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page_size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) : 0;
}

uint64_t DefaultMemoryBudgetBytes() {
  return std::clamp<uint64_t>(MachineMemoryBytes() / 8, 128ull << 20, 2ull << 30);
}

}  // namespace tessera
