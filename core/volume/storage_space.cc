// Storage: space accounting of snapshots and of the pool.
//
// Design notes
//  1. A snapshot holds tree nodes and data. Its nodes are accounted by the
//     database from the dead lists (core/db/snapshot_space.cc). Its data
//     lives in rows of the volume's data segment, which the cleaner keeps
//     while the newest snapshot may map them (volume_clean.cc note 5: a row
//     born at or before the newest snapshot's txg is pinned).
//  2. So deleting snapshot S unpins data only when S is the newest: the pin
//     falls back to the previous snapshot P (txg p, or none: 0), and the
//     cleaner then frees the rows born in (p, S.txg] that hold no live
//     block. Those rows (unique_data_bytes), plus S's unique nodes
//     (unique_metadata_bytes, every copy), are S's unique bytes; an older
//     snapshot's unique bytes are its unique nodes alone. A rollback to an
//     older snapshot keeping newer ones changes nothing here
//     (storage_rollback_keep.cc note 2).
//  3. Referenced bytes: the data the snapshot maps (4 KiB per mapped block)
//     plus its tree nodes.
//  4. Dead-but-pinned pool space: every dead-list node, plus, per volume,
//     the rows pinned by its newest snapshot that hold no live block.
//  5. Row counters come from the open volume (opened here if it is not), the
//     same view the cleaner acts on, so the accounting and the freeing agree.
#include <algorithm>
#include <map>

#include "core/segment/log_format.h"
#include "core/util/units.h"
#include "core/volume/storage_impl.h"

namespace tessera {
namespace {

struct RowSpace {
  uint64_t bytes = 0;
  uint64_t min_birth = UINT64_MAX;  // the row is pinned when <= the pin txg
  int64_t live = 0;
  bool reclaimable = false;  // the cleaner may free it (log_segment.h)
};

Result<std::vector<RowSpace>> RowsOf(Database& db, VolumeImpl& volume) {
  std::map<uint64_t, uint64_t> birth;  // extent address -> birth txg
  for (const auto& e : TRY(db.ExtentsOf(volume.dataset()))) birth[e.address.raw] = e.birth;
  auto live = TRY(volume.log().RowLiveBlocks());
  uint64_t limit = volume.log().ReclaimableBefore();
  std::vector<RowSpace> out;
  for (const LunRowDesc& row : volume.parts().data->Rows()) {
    RowSpace r;
    for (const LunBlock& b : row.blocks) {
      r.bytes += b.size;
      auto it = birth.find(b.address.raw);
      r.min_birth = std::min(r.min_birth, it == birth.end() ? 0 : it->second);
    }
    auto l = live.find(row.seg_offset);
    r.live = l == live.end() ? 0 : l->second;
    r.reclaimable = row.seg_end <= limit;
    out.push_back(r);
  }
  return out;
}

// Rows with no live block born in (after, upto]: pinned by a snapshot at
// txg `upto`, free once the pin falls to `after`.
uint64_t DeadRowBytes(const std::vector<RowSpace>& rows, uint64_t after, uint64_t upto) {
  uint64_t bytes = 0;
  for (const RowSpace& r : rows) {
    if (r.live <= 0 && r.reclaimable && r.min_birth > after && r.min_birth <= upto)
      bytes += r.bytes;
  }
  return bytes;
}

}  // namespace

Status Storage::Impl::FillSnapshotSpaceLocked(const std::string& volume,
                                              std::vector<SnapshotInfo>& snapshots) {
  if (snapshots.empty()) return Ok();
  auto live = TRY(OpenVolumeLocked(volume));
  auto rows = TRY(RowsOf(*db_, *live));
  for (size_t i = 0; i < snapshots.size(); i++) {
    SnapshotInfo& s = snapshots[i];
    SnapshotNodeSpace nodes = TRY(db_->SnapshotSpace(volume, s.name));
    auto tree = TRY(db_->OpenSnapshot(volume, s.name));
    uint64_t mapped = 0;
    TRY_STATUS(
        tree->Scan(MappingKey(0), MappingKey(UINT64_MAX), [&](std::string_view, std::string_view) {
          mapped++;
          return true;
        }));
    s.referenced_bytes = mapped * kBlockSize + nodes.node_bytes;
    s.unique_metadata_bytes = nodes.unique_node_bytes;
    if (i + 1 == snapshots.size()) {
      uint64_t prev_txg = i > 0 ? snapshots[i - 1].txg : 0;
      s.unique_data_bytes = DeadRowBytes(rows, prev_txg, s.txg);
    }
    s.unique_bytes = s.unique_data_bytes + s.unique_metadata_bytes;
  }
  return Ok();
}

Result<uint64_t> Storage::Impl::PinnedDeadRowBytesLocked(const std::string& volume) {
  auto snapshots = TRY(db_->ListSnapshots(volume));
  if (snapshots.empty()) return 0;
  auto live = TRY(OpenVolumeLocked(volume));
  auto rows = TRY(RowsOf(*db_, *live));
  return DeadRowBytes(rows, 0, snapshots.back().txg);
}

}  // namespace tessera
