// Data extents owned by datasets (volume data rows).
//
// Design notes
//  1. An extent is recorded ('e' dataset address -> birth, blocks) in the same
//     root-tree change as its allocation, so the bitmaps and the extent table
//     become durable in the same commit; after a crash both or neither exist.
//  2. Check counts extents as referenced blocks; DeleteDataset frees them.
#include "core/db/database.h"
#include "core/db/root_scan.h"

namespace tessera {

Result<DiskAddress> Database::AllocateExtent(Dataset* dataset, Tier tier, uint32_t vdev,
                                             BlockCount count) {
  std::lock_guard lock(mu_);
  TRY_STATUS(FailIfBroken());
  DiskAddress address = TRY(allocator_->AllocateOn(tier, vdev, count));
  DeadEntry entry{.birth = txg_ + 1, .blocks = static_cast<uint32_t>(count.value)};
  auto status = root_tree_->Insert(ExtentKey(dataset->id(), address.raw), EncodeDeadEntry(entry));
  if (!status) {
    (void)allocator_->Free(address, count);
    return Err(status.error());
  }
  return address;
}

Status Database::FreeExtent(Dataset* dataset, DiskAddress address) {
  std::lock_guard lock(mu_);
  TRY_STATUS(FailIfBroken());
  std::string key = ExtentKey(dataset->id(), address.raw);
  auto value = TRY(root_tree_->Get(key));
  if (!value) return Err(Code::kNotFound, "dataset '{}' owns no extent at {}", dataset->name(), address.ToString());
  DeadEntry entry = TRY(DecodeDeadEntry(*value));
  TRY_STATUS(allocator_->Free(address, BlockCount{entry.blocks}));
  return root_tree_->Delete(key);
}

Result<std::vector<Database::Extent>> Database::ExtentsOfLocked(uint64_t dataset_id) {
  return ExtentsIn(*root_tree_, dataset_id);
}

Result<std::vector<Database::Extent>> Database::ExtentsIn(Tree& root, uint64_t dataset_id) {
  std::vector<Extent> out;
  TRY_STATUS(ScanRecords(root, ExtentPrefix(dataset_id), DecodeDeadEntry,
                         OnUndecodable::Stop(),
                         [&](std::string_view address, const DeadEntry& entry) {
                           out.push_back(Extent{.address = DiskAddress{ReadBigEndian(address)},
                                                .blocks = entry.blocks,
                                                .birth = entry.birth});
                         }));
  return out;
}

Result<std::vector<Database::Extent>> Database::ExtentsOf(Dataset* dataset) {
  std::lock_guard lock(mu_);
  return ExtentsOfLocked(dataset->id());
}

}  // namespace tessera
