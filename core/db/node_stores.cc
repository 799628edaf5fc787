#include "core/db/node_stores.h"

namespace tessera {

Status PoolNodeStore::Allocate(BlockPtr* ptr) {
  BlockCount blocks{ptr->Blocks()};
  std::vector<DiskAddress> placed{TRY(allocator_->Allocate(blocks, tiers_))};
  const uint32_t want = io_->copies();
  while (placed.size() < want) {
    auto next = allocator_->AllocateApart(blocks, tiers_, placed);
    if (next) {
      placed.push_back(*next);
      continue;
    }
    if (next.error().code() == Code::kNoSpace) {
      io_->NoteSingleCopyWrite();
      break;
    }
    for (DiskAddress a : placed) (void)allocator_->Free(a, blocks);
    return Err(next.error());
  }
  std::vector<uint64_t> raw;
  for (DiskAddress a : placed) raw.push_back(a.raw);
  ptr->SetCopies(raw);
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
  for (uint64_t a : ptr.CopyAddresses()) FreeNow(DiskAddress{a}, ptr.Blocks());
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
  for (uint64_t a : ptr.CopyAddresses()) owned_[a] = ptr.Blocks();
}

void RootNodeStore::Free(const BlockPtr& ptr) {
  for (uint64_t a : ptr.CopyAddresses()) owned_.erase(a);
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
                                            .copy_address = ptr.copy_address,
                                            .more_copies = ptr.more_copies});
}

std::vector<std::pair<uint64_t, DeadEntry>> DatasetNodeStore::TakeDead() {
  return std::exchange(dead_, {});
}

}  // namespace tessera
