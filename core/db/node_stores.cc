#include "core/db/node_stores.h"

namespace tessera {

Status PoolNodeStore::Allocate(BlockPtr* ptr) {
  BlockCount blocks{ptr->Blocks()};
  DiskAddress first = TRY(allocator_->Allocate(blocks, tiers_));
  ptr->address = first.raw;
  ptr->copy_address = 0;
  if (io_->copies() < 2) return Ok();
  auto second = allocator_->AllocateApart(blocks, tiers_, first);
  if (second) {
    ptr->copy_address = second->raw;
  } else if (second.error().code() == Code::kNoSpace) {
    io_->NoteSingleCopyWrite();
  } else {
    (void)allocator_->Free(first, blocks);
    return Err(second.error());
  }
  return Ok();
}

Status PoolNodeStore::Write(const BlockPtr& ptr, std::span<const std::byte> data) {
  return io_->Write(ptr, data);
}

Status PoolNodeStore::Read(const BlockPtr& ptr, std::span<std::byte> data) {
  return io_->Read(ptr, data);
}

void PoolNodeStore::FreeNow(DiskAddress address, uint32_t blocks) {
  auto status = allocator_->Free(address, BlockCount{blocks});
  if (!status && !free_error_) free_error_ = status.error();
}

void PoolNodeStore::Free(const BlockPtr& ptr) {
  FreeNow(DiskAddress{ptr.address}, ptr.Blocks());
  if (ptr.HasCopy()) FreeNow(DiskAddress{ptr.copy_address}, ptr.Blocks());
}

std::optional<Error> PoolNodeStore::TakeFreeError() {
  auto error = std::move(free_error_);
  free_error_.reset();
  return error;
}

Status RootNodeStore::Allocate(BlockPtr* ptr) {
  TRY_STATUS(PoolNodeStore::Allocate(ptr));
  Adopt(*ptr);
  return Ok();
}

void RootNodeStore::Adopt(const BlockPtr& ptr) {
  owned_[ptr.address] = ptr.Blocks();
  if (ptr.HasCopy()) owned_[ptr.copy_address] = ptr.Blocks();
}

void RootNodeStore::Free(const BlockPtr& ptr) {
  owned_.erase(ptr.address);
  if (ptr.HasCopy()) owned_.erase(ptr.copy_address);
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
  dead_.emplace_back(ptr.address, DeadEntry{.birth = ptr.birth, .blocks = ptr.Blocks(),
                                            .copy_address = ptr.copy_address});
}

std::vector<std::pair<uint64_t, DeadEntry>> DatasetNodeStore::TakeDead() {
  return std::exchange(dead_, {});
}

}  // namespace tessera
