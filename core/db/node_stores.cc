#include "core/db/node_stores.h"

namespace tessera {

Result<uint64_t> PoolNodeStore::Allocate(uint32_t blocks) {
  DiskAddress address = TRY(allocator_->Allocate(BlockCount{blocks}, tiers_));
  return address.raw;
}

Status PoolNodeStore::Write(uint64_t address, std::span<const std::byte> data) {
  return pool_->Write(DiskAddress{address}, data);
}

Status PoolNodeStore::Read(uint64_t address, std::span<std::byte> data) {
  return pool_->Read(DiskAddress{address}, data);
}

void PoolNodeStore::FreeNow(DiskAddress address, uint32_t blocks) {
  auto status = allocator_->Free(address, BlockCount{blocks});
  if (!status && !free_error_) free_error_ = status.error();
}

void PoolNodeStore::Free(const BlockPtr& ptr) { FreeNow(DiskAddress{ptr.address}, ptr.Blocks()); }

std::optional<Error> PoolNodeStore::TakeFreeError() {
  auto error = std::move(free_error_);
  free_error_.reset();
  return error;
}

Result<uint64_t> RootNodeStore::Allocate(uint32_t blocks) {
  uint64_t address = TRY(PoolNodeStore::Allocate(blocks));
  owned_[address] = blocks;
  return address;
}

void RootNodeStore::Free(const BlockPtr& ptr) {
  owned_.erase(ptr.address);
  PoolNodeStore::Free(ptr);
}

std::vector<std::pair<DiskAddress, uint64_t>> RootNodeStore::Owned() const {
  std::vector<std::pair<DiskAddress, uint64_t>> out;
  for (auto [address, blocks] : owned_) out.emplace_back(DiskAddress{address}, blocks);
  return out;
}

void DatasetNodeStore::Free(const BlockPtr& ptr) {
  if (ptr.birth > latest_snapshot_txg_) {
    PoolNodeStore::Free(ptr);
    return;
  }
  dead_.emplace_back(ptr.address, DeadEntry{.birth = ptr.birth, .blocks = ptr.Blocks()});
}

std::vector<std::pair<uint64_t, DeadEntry>> DatasetNodeStore::TakeDead() {
  return std::exchange(dead_, {});
}

}  // namespace tessera
