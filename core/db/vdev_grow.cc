// Database::GrowVdev: a vdev takes a larger device while the database is
// open (database.h contract 8).
//
// Design notes
//  1. The caller (Storage, core/volume/storage_vdev_grow.cc) has grown the
//     file, written the new end label (Pool::PrepareGrow) and pool.conf
//     with the new size. Under the commit lock the label at block 0 takes
//     the new size (Pool::GrowVdev), the allocator grows (allocator.h
//     contract 9) and one commit stores the grown bitmaps. A crash between
//     the label and that commit opens at the new size with the old bitmaps,
//     which the allocator settles (SettleGrownVdevs) to the same space.
#include "core/db/database.h"
#include "core/util/log.h"

namespace tessera {

Status Database::GrowVdev(const std::string& name, std::shared_ptr<Vdev> device) {
  auto scope = LockToCommit();
  TRY_STATUS(FailIfBroken());
  const PoolVdev* vdev = pool_->FindByName(name);
  const uint64_t before = vdev != nullptr ? vdev->label.size_blocks : 0;
  auto grown =
      pool_->GrowVdev(name, std::move(device), [&](const PoolVdev& vdev, uint64_t old_blocks) {
        return allocator_->GrowVdev(vdev, old_blocks);
      });
  if (!grown) {
    // After the label switch the pool and the allocator may disagree:
    // refuse further commits; the next open sees the new size.
    if (vdev != nullptr && vdev->label.size_blocks != before) failed_ = grown.error();
    return grown;
  }
  TRY(CommitLocked(/*force=*/true));
  return Ok();
}

}  // namespace tessera
