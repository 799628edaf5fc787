// Moving one data row whole to another tier, for automatic tiering
// (VolumeImpl::RetierRow, chosen by storage_tiering.cc). The row's blocks
// are copied onto new blocks and the exNode names those instead; the row
// keeps its offsets in the data segment, so the log's mappings stay as they
// are and nothing above the data segment sees the move.
//
// Design notes
//  1. Only a settled row moves: wholly before the recorded log head
//     (nothing is appended there any more), with every block on an online
//     vdev, and with no block a snapshot's exNode names (the snapshot would
//     go on reading the old blocks, which could then never be freed).
//  2. grow_mu_ is held throughout, so the cleaner cannot free or relocate
//     the row meanwhile, nor a move or evacuation step take it. Clients'
//     reads go on, from the old blocks until the swap.
//  3. One commit hold (Database contract 9) covers the new extents, the
//     copy, the exNode that names them and the frees of the old blocks, so
//     one commit makes all of it durable and a crash before it leaves the
//     old row, named, and nothing of the new one. The new blocks are
//     flushed before the exNode naming them is saved. The hold delays other
//     commits by one row's copy.
//  4. The old blocks stay unallocatable until that commit is durable
//     (Allocator contract 2), so a read that began before the swap reads
//     them intact.
#include <algorithm>

#include "core/util/aligned_buffer.h"
#include "core/util/log.h"
#include "core/volume/row_query.h"
#include "core/volume/storage_core.h"
#include "core/volume/volume_impl.h"

namespace tessera {
namespace {

constexpr uint64_t kCopyPiece = 1 << 20;

DiskAddress At(DiskAddress base, uint64_t byte_offset) {
  return DiskAddress::Make(base.tier(), base.vdev(), base.block() + byte_offset / kBlockSize);
}

// Copies `from`'s bytes onto `to` (the same size), then flushes `to`'s vdev.
Status CopyBlock(Pool& pool, const LunBlock& from, const LunBlock& to, AlignedBuffer& buffer) {
  for (uint64_t at = 0; at < from.size; at += kCopyPiece) {
    std::span<std::byte> piece = buffer.span().first(std::min(kCopyPiece, from.size - at));
    TRY_STATUS(pool.Read(At(from.address, at), piece));
    TRY_STATUS(pool.Write(At(to.address, at), piece));
  }
  const PoolVdev* target = pool.Find(to.address.tier(), to.address.vdev());
  if (target == nullptr) return Err(Code::kNotFound, "no vdev at {}", to.address.ToString());
  return target->device->Flush();
}

}  // namespace

Result<uint64_t> VolumeImpl::RetierRow(uint64_t row_start, Tier tier, const std::set<uint64_t>& snapshot_blocks) {
  std::lock_guard lock(grow_mu_);  // note 2
  if (retired()) return Err(Code::kBusy, "volume '{}' was closed meanwhile", parts_.name);
  if (parts_.read_only) return Err(Code::kReadOnly, "'{}' is a snapshot; its rows stay", parts_.name);
  DataSegment& data = *parts_.data;
  LunSegment& lun = data.lun();
  std::optional<LunRowDesc> row;
  for (LunRowDesc& r : data.Rows()) {
    if (r.seg_offset == row_start) row = std::move(r);
  }
  if (!row || row->blocks.empty()) {
    return Err(Code::kNotFound, "volume '{}' has no data row at {}", parts_.name, row_start);
  }
  // Note 1.
  if (row->seg_end > parts_.log->ReclaimableBefore()) {
    return Err(Code::kBusy, "volume '{}': row at {} is still being written", parts_.name, row_start);
  }
  Pool& pool = core_->pool();
  for (const LunBlock& b : row->blocks) {
    if (snapshot_blocks.contains(b.address.raw)) {
      return Err(Code::kBusy, "volume '{}': a snapshot names row at {}", parts_.name, row_start);
    }
    const PoolVdev* v = pool.Find(b.address.tier(), b.address.vdev());
    if (v == nullptr || !v->device->online()) {
      return Err(Code::kIOError, "volume '{}': row at {} has a block on vdev '{}', which is not online",
                 parts_.name, row_start, b.vdev);
    }
  }
  const uint64_t lun_start = row_start / data.row_bytes() * lun.row_bytes();
  const uint64_t block_bytes = row->blocks.front().size;
  const std::string query = TRY(RowQueryWithTier(lun.query(), tier));

  auto hold = db_->HoldCommits();  // note 3
  std::vector<LunBlock> fresh =
      TRY(AllocateRowBy(static_cast<uint32_t>(row->blocks.size()), block_bytes, query));
  auto drop_fresh = [&](Error error) -> Error {
    for (const LunBlock& b : fresh) (void)db_->FreeExtent(parts_.dataset, b.address);
    return error.WithContext(fmt::format("volume '{}': moving row at {} to tier {}", parts_.name, row_start,
                                         TierName(tier)));
  };
  for (const LunBlock& b : fresh) {
    const PoolVdev* v = pool.Find(b.address.tier(), b.address.vdev());
    if (v == nullptr || !v->device->online()) {
      return Err(drop_fresh(
          Error(Code::kNoSpace, fmt::format("no online vdev has room (vdev '{}' is not online)", b.vdev))));
    }
  }
  AlignedBuffer buffer(std::min(kCopyPiece, block_bytes));
  for (size_t p = 0; p < fresh.size(); p++) {
    auto copied = CopyBlock(pool, row->blocks[p], fresh[p], buffer);
    if (!copied) return Err(drop_fresh(copied.error()));
  }
  for (uint32_t p = 0; p < fresh.size(); p++) {
    auto replaced = lun.ReplaceBlock(lun_start, p, fresh[p]);
    if (!replaced) {
      for (uint32_t q = 0; q < p; q++) (void)lun.ReplaceBlock(lun_start, q, row->blocks[q]);
      return Err(drop_fresh(replaced.error()));
    }
  }
  TRY_STATUS(SaveExnode());
  for (const LunBlock& old : row->blocks) {
    if (auto freed = db_->FreeExtent(parts_.dataset, old.address); !freed) {
      Log(LogLevel::kWarn, "volume '{}': freeing block {} after its row moved: {}", parts_.name,
          old.address.ToString(), freed.error().ToString());
    }
  }
  hold.Release();
  TRY_STATUS(core_->CommitAll());
  return block_bytes * fresh.size();
}

}  // namespace tessera
