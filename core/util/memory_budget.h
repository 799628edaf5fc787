// MemoryBudget: one bound on the bytes that every member (each volume's page
// cache) holds in a server, shared among them.
//
// Contract
//  1. Members report what they hold with Adjust (bytes held, and of those,
//     dirty bytes that cannot be dropped until written down). used() and
//     dirty() are the sums.
//  2. Over() is true when used() exceeds limit(); DirtyOver() when dirty()
//     exceeds dirty_limit() (half the limit). Both are one atomic load, for
//     the data path.
//  3. Reclaim() asks members to drop what they can (clean data), the
//     largest holders first, until used() is a slack below limit()
//     (limit / 32), so that a full budget does not reclaim
//     on every insert. One Reclaim runs at a time; a call while another runs
//     returns at once (that one brings the total down).
//  4. Locking: Reclaim holds the budget's mutex while it calls
//     Member::Shed; Join and Leave take it too, so a member that has left is
//     never called. A member must not call Join, Leave or Reclaim while it
//     holds a lock that its Shed takes. Adjust, Over and DirtyOver take no
//     lock.
//  5. Dirty data is the members' own to bound: DirtyOver() tells a writer
//     to write its own dirty data down before it adds more.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace tessera {

class MemoryBudget {
 public:
  class Member {
   public:
    virtual ~Member() = default;
    // Bytes held now (as last adjusted).
    virtual uint64_t held_bytes() const = 0;
    // Drops up to about `bytes` of what can be dropped; returns bytes dropped.
    virtual uint64_t Shed(uint64_t bytes) = 0;
  };

  explicit MemoryBudget(uint64_t limit_bytes) : limit_(limit_bytes) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  uint64_t limit() const { return limit_; }
  uint64_t dirty_limit() const { return limit_ / 2; }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t dirty() const { return dirty_.load(std::memory_order_relaxed); }
  bool Over() const { return used() > limit_; }
  bool DirtyOver() const { return dirty() > dirty_limit(); }

  void Adjust(int64_t held_delta, int64_t dirty_delta) {
    used_.fetch_add(static_cast<uint64_t>(held_delta), std::memory_order_relaxed);
    dirty_.fetch_add(static_cast<uint64_t>(dirty_delta), std::memory_order_relaxed);
  }

  void Join(Member* member);
  void Leave(Member* member);
  void Reclaim();
  // Times Reclaim dropped something, and bytes dropped in all.
  uint64_t reclaims() const { return reclaims_.load(std::memory_order_relaxed); }
  uint64_t reclaimed_bytes() const { return reclaimed_bytes_.load(std::memory_order_relaxed); }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> dirty_{0};
  std::atomic<uint64_t> reclaims_{0};
  std::atomic<uint64_t> reclaimed_bytes_{0};
  std::mutex mu_;
  std::vector<Member*> members_;  // GUARDED_BY(mu_)
};

// The machine's physical memory (sysconf), 0 when it cannot be read.
uint64_t MachineMemoryBytes();

// The default budget for a server: an eighth of the machine's memory, at
// least 128 MiB and at most 2 GiB.
uint64_t DefaultMemoryBudgetBytes();

}  // namespace tessera
