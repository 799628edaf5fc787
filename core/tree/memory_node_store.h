// MemoryNodeStore: a NodeStore in RAM, shipped with the library as a test
// double (STYLE.md habit 10).
//
// Contract
//  1. Addresses come from a bump allocator in 4 KiB block units starting at
//     1; they are never reused. Allocate never fails. Nodes have one copy
//     (copy_address stays 0).
//  2. Write must target an allocated address; the bytes are kept until the
//     store is destroyed (Free only records the pointer, so old roots remain
//     readable, like a snapshot).
//  3. Read of an address never written: IOError. Reading more bytes than were
//     written returns zeros for the rest.
//  4. Thread-safe (one internal mutex).
//  5. Test hooks: CorruptByte, ReplaceBytes, freed(), allocated().
#pragma once

#include <map>
#include <mutex>
#include <vector>

#include "core/tree/node_store.h"

namespace tessera {

class MemoryNodeStore : public NodeStore {
 public:
  MemoryNodeStore() = default;

  Status Allocate(BlockPtr* ptr) override;
  Status Write(const BlockPtr& ptr, std::span<const std::byte> data) override;
  Status Read(const BlockPtr& ptr, std::span<std::byte> data) override;
  void Free(const BlockPtr& ptr) override;
  uint64_t CurrentGeneration() const override;

  void SetGeneration(uint64_t generation);
  // XORs `mask` into byte `offset` of the node stored at `address`. Returns
  // false when there is no such byte.
  bool CorruptByte(uint64_t address, size_t offset, uint8_t mask);
  // Replaces the stored bytes at `address` (e.g. truncated or garbage data).
  void ReplaceBytes(uint64_t address, std::vector<std::byte> bytes);
  // Every pointer handed to Free, in order.
  std::vector<BlockPtr> freed() const;
  // Every address returned by Allocate, in order.
  std::vector<uint64_t> allocated() const;
  uint64_t reads() const;
  uint64_t writes() const;

 private:
  mutable std::mutex mu_;
  uint64_t next_ = 1;           // guarded by mu_
  uint64_t generation_ = 1;     // guarded by mu_
  uint64_t reads_ = 0;          // guarded by mu_
  uint64_t writes_ = 0;         // guarded by mu_
  std::map<uint64_t, uint32_t> allocations_;               // address -> blocks; mu_
  std::map<uint64_t, std::vector<std::byte>> data_;        // mu_
  std::vector<uint64_t> allocated_order_;                  // mu_
  std::vector<BlockPtr> freed_;                            // mu_
};

}  // namespace tessera
