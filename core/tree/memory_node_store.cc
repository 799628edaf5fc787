// MemoryNodeStore: see the header for the contract.
#include "core/tree/memory_node_store.h"

#include <algorithm>
#include <cstring>

namespace tessera {

Status MemoryNodeStore::Allocate(BlockPtr* ptr) {
  uint32_t blocks = ptr->Blocks();
  if (blocks == 0) return Err(Code::kInvalidArgument, "allocate of zero blocks");
  std::lock_guard lock(mu_);
  uint64_t address = next_;
  next_ += blocks;
  allocations_[address] = blocks;
  allocated_order_.push_back(address);
  const uint64_t only[] = {address};
  ptr->SetCopies(only);
  return Ok();
}

Status MemoryNodeStore::Write(const BlockPtr& ptr, std::span<const std::byte> data) {
  const uint64_t address = ptr.address;
  std::lock_guard lock(mu_);
  auto it = allocations_.find(address);
  if (it == allocations_.end()) return Err(Code::kInvalidArgument, "write to unallocated {}", address);
  if (data.size() % 4096 != 0 || data.size() > uint64_t{it->second} * 4096) {
    return Err(Code::kInvalidArgument, "write of {} bytes to {} does not fit", data.size(), address);
  }
  data_[address].assign(data.begin(), data.end());
  ++writes_;
  return Ok();
}

Status MemoryNodeStore::Read(const BlockPtr& ptr, std::span<std::byte> data) {
  const uint64_t address = ptr.address;
  std::lock_guard lock(mu_);
  auto it = data_.find(address);
  if (it == data_.end()) return Err(Code::kIOError, "read of unwritten address {}", address);
  size_t n = std::min(data.size(), it->second.size());
  if (n > 0) std::memcpy(data.data(), it->second.data(), n);  // data() of an empty one may be null
  if (data.size() > n) std::memset(data.data() + n, 0, data.size() - n);
  ++reads_;
  return Ok();
}

void MemoryNodeStore::Free(const BlockPtr& ptr) {
  std::lock_guard lock(mu_);
  freed_.push_back(ptr);
}

uint64_t MemoryNodeStore::CurrentGeneration() const {
  std::lock_guard lock(mu_);
  return generation_;
}

void MemoryNodeStore::SetGeneration(uint64_t generation) {
  std::lock_guard lock(mu_);
  generation_ = generation;
}

bool MemoryNodeStore::CorruptByte(uint64_t address, size_t offset, uint8_t mask) {
  std::lock_guard lock(mu_);
  auto it = data_.find(address);
  if (it == data_.end() || offset >= it->second.size()) return false;
  it->second[offset] ^= static_cast<std::byte>(mask);
  return true;
}

void MemoryNodeStore::ReplaceBytes(uint64_t address, std::vector<std::byte> bytes) {
  std::lock_guard lock(mu_);
  data_[address] = std::move(bytes);
}

std::vector<BlockPtr> MemoryNodeStore::freed() const {
  std::lock_guard lock(mu_);
  return freed_;
}

std::vector<uint64_t> MemoryNodeStore::allocated() const {
  std::lock_guard lock(mu_);
  return allocated_order_;
}

uint64_t MemoryNodeStore::reads() const {
  std::lock_guard lock(mu_);
  return reads_;
}

uint64_t MemoryNodeStore::writes() const {
  std::lock_guard lock(mu_);
  return writes_;
}

}  // namespace tessera
