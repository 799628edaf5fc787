// The cleaner: reclaiming rows of a volume's data segment.
//
// Design notes
//  1. Only rows wholly before the log head recorded by the last commit are
//     touched (LogSegment::ReclaimableBefore): replay after a crash starts at
//     that head, so it never reads a freed row.
//  2. A row whose live counter is zero is freed at once: its blocks go back
//     to the pool as dataset extents are freed, its counter and its exNode
//     row go away, and the next commit makes all of that durable together.
//  3. The data segment needs about size / row_bytes rows, plus the head row
//     and a spare. Relocation trades writes for space, so normally the log
//     may grow to twice that before the emptiest reclaimable row (if at most
//     half live) has its live blocks relocated to the head and is freed. When
//     the pool has no room for a new row, cleaning turns aggressive: the
//     emptiest reclaimable row is relocated however live it is, as long as
//     freeing it gains at least a 64th of a row and its live blocks fit in
//     the log's rows without a new one (LogSegment::RelocationRoom); the
//     alternative is failing the write. (A bound of 90% live failed writes
//     to a volume at 80% of its pool when no reclaimable row was under it,
//     or when the head's row had no room left for the one that was.) One
//     relocation per call keeps the cleaner's share of the writer's time
//     bounded; the writer's batches make the calls. Rows pinned by
//     snapshots (note 5) do not count against the normal bound: they cannot
//     be moved, so counting them would make every call relocate a row.
//  5. Snapshots: a row that existed when the volume's newest snapshot was
//     taken (its extent's birth txg is at most the snapshot's) may hold data
//     the snapshot maps, so it is neither freed nor relocated until the
//     snapshots are deleted. Rows written after the newest snapshot are
//     cleaned as usual. Clones read their origin snapshot's rows through
//     this same pin, and rollback relies on it: every row the newest
//     snapshot maps still exists. FreeRowsLocked looks at the pin again
//     under its commit hold (note 6): a snapshot taken while the cleaner
//     was choosing rows names them all in its exNode.
//  4. Growing first tries cleaning; when the pool has no room for a row,
//     a commit records the head (so the rows written since the last commit
//     are reclaimable too) and cleaning is retried aggressively before
//     NoSpace is returned.
//  6. A new row (its extents, then the exNode naming it) and freed rows
//     (the exNode without them, then their extents freed) are each made
//     under one hold of the database's commits (Database contract 9): the
//     background thread commits without this volume's locks, and a commit
//     between the steps would make half the change durable. After a crash
//     that would be a leak (extents no exNode names) or worse, blocks
//     handed to another volume while a committed exNode still names them.
//     So every commit finds each extent of a volume named by its exNode or
//     one of its snapshots' (Storage::Check checks it), and the exNode
//     names only extents the volume owns.
//  7. A block that only snapshots name (one a repair moved its row off,
//     storage_repair.cc note 2b) is freed when the last of them is deleted:
//     FreeUnnamedExtents, called after a snapshot delete, frees every extent
//     that neither the exNode in memory nor a snapshot's names. It holds
//     grow_mu_ (no row comes or goes meanwhile) and a commit hold; a repair
//     cannot run meanwhile (both wait for the volume to be idle). It gives
//     up, freeing nothing, when any exNode cannot be read.
#include <algorithm>
#include <map>
#include <set>

#include "core/exnode/exnode.h"
#include "core/util/log.h"
#include "core/volume/storage_core.h"
#include "core/volume/volume_impl.h"

namespace tessera {

Status VolumeImpl::Clean(CleanMode mode) {
  std::lock_guard lock(grow_mu_);
  if (retired()) return Ok();  // the dataset is no longer this object's
  bool changed = false;
  TRY_STATUS(CleanLocked(mode, &changed));
  if (!changed) return Ok();
  TRY_STATUS(SaveExnode());
  TRY_STATUS(core_->CommitAll());
  Log(LogLevel::kDebug, "volume '{}': cleaner committed", parts_.name);
  return Ok();
}

Result<LunRowDesc> VolumeImpl::GrowAndSaveLocked() {
  auto hold = db_->HoldCommits();  // note 6
  auto grown = parts_.data->Grow();
  if (grown) TRY_STATUS(SaveExnode());
  return grown;
}

Status VolumeImpl::GrowLocked() {
  auto grown = GrowAndSaveLocked();
  if (!grown && grown.error().code() == Code::kNoSpace) {
    // Note 4: a commit first records the head, so every row written since
    // the last one is reclaimable too.
    TRY_STATUS(core_->CommitAll());
    bool changed = false;
    TRY_STATUS(CleanLocked(CleanMode::kAggressive, &changed));
    if (changed) {
      TRY_STATUS(SaveExnode());
      TRY_STATUS(core_->CommitAll());
    }
    if (parts_.log->SpareRows() >= 1) return Ok();
    grown = GrowAndSaveLocked();
  }
  if (!grown) return Err(grown.error());
  return core_->CommitAll();
}

Result<std::set<uint64_t>> VolumeImpl::PinnedRowsLocked(const std::vector<LunRowDesc>& rows) {
  // Rows that existed when the newest snapshot was taken may hold its data.
  uint64_t pin_txg = 0;
  for (const SnapshotInfo& snap : TRY(db_->ListSnapshots(parts_.name))) pin_txg = std::max(pin_txg, snap.txg);
  std::set<uint64_t> pinned;  // row starts
  if (pin_txg == 0) return pinned;
  std::map<uint64_t, uint64_t> birth;  // extent address -> birth txg
  for (const auto& e : TRY(db_->ExtentsOf(parts_.dataset))) birth[e.address.raw] = e.birth;
  for (const LunRowDesc& row : rows) {
    for (const LunBlock& b : row.blocks) {
      if (birth[b.address.raw] <= pin_txg) pinned.insert(row.seg_offset);
    }
  }
  return pinned;
}

Status VolumeImpl::FreeRowsLocked(const std::vector<uint64_t>& row_starts) {
  if (row_starts.empty()) return Ok();
  auto hold = db_->HoldCommits();  // note 6
  // Note 5, again under the hold: a snapshot taken since the caller chose
  // these rows names them in its exNode, and none can be taken now.
  std::set<uint64_t> pinned = TRY(PinnedRowsLocked(parts_.data->Rows()));
  std::vector<LunBlock> blocks;
  uint64_t freed_rows = 0;
  for (uint64_t start : row_starts) {
    if (pinned.contains(start)) continue;
    freed_rows++;
    LunRowDesc row = TRY(parts_.data->RemoveRow(start));
    Log(LogLevel::kDebug, "volume '{}': freeing row {}", parts_.name, start / parts_.data->row_bytes());
    blocks.insert(blocks.end(), row.blocks.begin(), row.blocks.end());
    TRY_STATUS(parts_.log->ForgetRow(start));
  }
  TRY_STATUS(SaveExnode());
  for (const LunBlock& b : blocks) TRY_STATUS(db_->FreeExtent(parts_.dataset, b.address));
  if (parts_.io && freed_rows > 0) {
    parts_.io->cleaner_freed.Record(freed_rows, freed_rows * parts_.data->row_bytes(), 0);
  }
  return Ok();
}

Result<uint64_t> VolumeImpl::FreeUnnamedExtents() {
  std::lock_guard lock(grow_mu_);
  if (retired() || parts_.read_only) return 0;
  auto hold = db_->HoldCommits();  // note 6
  std::set<uint64_t> named = TRY(SnapshotDataBlocks(*db_, parts_.name));
  for (const auto& b : TRY(DataBlocksOf(TRY(ParseExnode(TRY(ExnodeText())))))) named.insert(b.address.raw);
  uint64_t freed = 0;
  for (const auto& e : TRY(db_->ExtentsOf(parts_.dataset))) {
    if (named.contains(e.address.raw)) continue;
    TRY_STATUS(db_->FreeExtent(parts_.dataset, e.address));
    Log(LogLevel::kInfo, "volume '{}': freed extent {} +{}, which no exNode names", parts_.name,
        e.address.ToString(), e.blocks);
    freed++;
  }
  hold.Release();
  if (freed > 0) TRY_STATUS(core_->CommitAll());
  return freed;
}

Result<int64_t> VolumeImpl::RelocateLocked(uint64_t row_start) {
  for (int attempt = 0;; attempt++) {
    auto moved = parts_.log->RelocateRow(row_start);
    if (moved) break;
    if (moved.error().code() != Code::kNoSpace || attempt >= 4) return Err(moved.error());
    // The relocated blocks need a fresh row at the head first.
    TRY(GrowAndSaveLocked());
    TRY_STATUS(core_->CommitAll());
  }
  auto after = TRY(parts_.log->RowLiveBlocks());
  auto it = after.find(row_start);
  return it == after.end() ? 0 : it->second;
}

Status VolumeImpl::CleanLocked(CleanMode mode, bool* changed) {
  LogSegment& log = *parts_.log;
  uint64_t row_bytes = parts_.data->row_bytes();
  uint64_t limit = log.ReclaimableBefore();
  auto live = TRY(log.RowLiveBlocks());
  auto live_of = [&](uint64_t start) { auto it = live.find(start); return it == live.end() ? 0 : it->second; };
  std::vector<LunRowDesc> rows = parts_.data->Rows();
  size_t remaining = rows.size();
  std::set<uint64_t> pinned = TRY(PinnedRowsLocked(rows));
  if (LogEnabled(LogLevel::kDebug)) {
    std::string summary;
    for (const auto& row : rows) summary += fmt::format(" {}:{}", row.seg_offset / row_bytes, live_of(row.seg_offset));
    Log(LogLevel::kDebug, "volume '{}': cleaner: reclaimable before row {}; row:live{}", parts_.name,
        limit / row_bytes, summary);
  }
  std::vector<uint64_t> empty;
  for (const LunRowDesc& row : rows) {
    if (row.seg_end > limit || live_of(row.seg_offset) > 0 || pinned.count(row.seg_offset)) continue;
    empty.push_back(row.seg_offset);
  }
  TRY_STATUS(FreeRowsLocked(empty));
  remaining -= empty.size();
  *changed = *changed || !empty.empty();
  if (mode == CleanMode::kFreeOnly) return Ok();
  const int64_t row_blocks = static_cast<int64_t>(row_bytes / kBlockSize);
  int64_t least = 0;  // a victim has fewer live blocks (note 3)
  if (mode == CleanMode::kNormal) {
    // Rows the snapshots pin cannot be relocated: the bound is on the others,
    // or every new row would relocate one in vain (note 3).
    const uint64_t volume_rows = (size() + row_bytes - 1) / row_bytes;
    const uint64_t movable = remaining - std::min<uint64_t>(remaining, pinned.size());
    if (movable <= 2 * volume_rows + 2) return Ok();
    least = row_blocks / 2;
  } else {
    least = std::min<int64_t>(row_blocks - row_blocks / 64, static_cast<int64_t>(log.RelocationRoom()) + 1);
  }
  // The emptiest reclaimable row with fewer live blocks than that.
  std::optional<uint64_t> victim;
  for (const LunRowDesc& row : parts_.data->Rows()) {
    if (row.seg_end > limit || pinned.count(row.seg_offset)) continue;
    if (live_of(row.seg_offset) < least) {
      least = live_of(row.seg_offset);
      victim = row.seg_offset;
    }
  }
  if (!victim) return Ok();
  const uint64_t started_ns = MonotonicNs();
  const uint64_t moved_bytes = static_cast<uint64_t>(std::max<int64_t>(live_of(*victim), 0)) * kBlockSize;
  const int64_t left = TRY(RelocateLocked(*victim));
  if (parts_.io) parts_.io->cleaner_moved.Record(1, moved_bytes, MonotonicNs() - started_ns);
  if (left > 0) {
    Log(LogLevel::kWarn, "volume '{}': row {} still has {} live blocks after relocation", parts_.name, *victim,
        left);
    return Ok();
  }
  TRY_STATUS(FreeRowsLocked({*victim}));
  *changed = true;
  return Ok();
}

}  // namespace tessera
