// Database::AddVdev: a vdev joins the pool while it is open (database.h
// contract 7).
//
// Design notes
//  1. The caller (Storage, core/volume/storage_vdev_add.cc) has labelled the
//     device (Pool::PrepareVdev) and written pool.conf naming it before this
//     runs, so every state a crash can leave opens: until the commit below
//     nothing durable refers to the vdev, and after it pool.conf already
//     lists it.
//  2. The allocator learns of the vdev inside Pool::AddVdev, before the
//     pool publishes it, so row placement (which reads the pool's vdevs)
//     never picks a vdev the allocator cannot allocate on. Both happen
//     under the commit lock, so no commit sees one without the other.
//  3. The copies new nodes get are bounded by the metadata tiers' vdevs
//     (MetadataIo::CopiesFor); a new vdev may raise that bound up to the
//     setting, and then the nodes written with fewer copies get theirs in
//     the same commit (RewriteThinNodesLocked), as raising the setting
//     does. Snapshot trees keep theirs (ScrubMetadata counts them).
#include "core/db/database.h"
#include "core/util/log.h"

namespace tessera {

Status Database::AddVdev(const VdevConfig& config, std::shared_ptr<Vdev> device) {
  auto scope = LockToCommit();
  TRY_STATUS(FailIfBroken());
  TRY_STATUS(pool_->AddVdev(config, std::move(device),
                            [&](const PoolVdev& vdev) { return allocator_->AddVdev(vdev); }));
  const uint32_t before = io_->copies();
  io_->set_copies(MetadataIo::CopiesFor(*pool_, options_.metadata_tiers, copies_setting_.load()));
  if (io_->copies() > before) {
    auto rewritten = RewriteThinNodesLocked();
    if (!rewritten) {
      failed_ = rewritten.error();
      return Err(rewritten.error());
    }
    Log(LogLevel::kInfo, "vdev '{}' added: tree nodes now get {} copies (were {})", config.name,
        io_->copies(), before);
  }
  TRY(CommitLocked(/*force=*/true));
  return Ok();
}

}  // namespace tessera
