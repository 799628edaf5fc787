// Storage: volume inspect and repair (after LStore's lio_inspect).
//
// Design notes
//  1. Inspect works on the volume's shared open object (OpenVolumeLocked), so
//     a running server's exports keep serving while it runs: the jerasure
//     segment's stripe locks order repairs against reads and writes, and the
//     lun's row lock orders block replacement against I/O (LunSegment
//     contract 5). It is long work (storage_impl.h, locking notes): the
//     volume is held kShared, and mu_ is not held, while it reads.
//  2. Replacing a lost block, in order: choose a vdev through the lun's
//     query (online, and the row with the new vdev must still satisfy the
//     query's constraints, e.g. unique names), allocate the block as a
//     dataset extent, swap it into the row, save the exNode, free the old
//     block, and commit. Until the rebuild pass rewrites it, the new block's
//     chunks read as missing and are rebuilt from parity by any reader; a
//     crash in between leaves a row that reads the same way.
//  2b. An old block that a snapshot's exNode names is not freed: the
//     snapshot still reads through it (decoding around it while its vdev
//     is lost). It stays an extent of the volume, named by snapshots only,
//     until the last of them is deleted (volume_clean.cc note 7).
//  2a. The free goes into the commit that saves the exNode, not into a
//     later one: a crash between the two used to keep the old block as an
//     extent of the volume that no row names, which a later replace of its
//     vdev counted as data without redundancy, lost (tests/thrash/README.md,
//     bug 12). Freeing before that commit is safe: the old block is out of
//     the row already, and the allocator hands it out again only once the
//     commit is durable (docs/architecture.md, Allocator). New blocks,
//     exNode and frees are made under one commit hold (Database contract
//     9), so no commit from another thread lands between them.
//  3. The rebuild pass is DataSegment::InspectRows with repair over the
//     whole volume: every bad chunk (on a replaced block, corrupt, stale) of
//     a stripe with at most M bad is rebuilt and rewritten in place.
//  3a. Stripes at or past the log's head hold nothing live (a batch whose
//     write failed leaves chunks there that no mapping references); they are
//     not inspected.
//  4. Volumes without parity cannot be repaired: inspect reads every mapped
//     block through the log (whose read verifies each block's checksum) and
//     counts the blocks that fail as unrecoverable.
#include <algorithm>
#include <set>

#include "core/exnode/query.h"
#include "core/segment/lun_segment.h"
#include "core/util/log.h"
#include "core/volume/storage_impl.h"

namespace tessera {

std::string_view InspectDepthName(InspectDepth depth) {
  switch (depth) {
    case InspectDepth::kQuick:
      return "quick";
    case InspectDepth::kScan:
      return "scan";
    case InspectDepth::kFull:
      return "full";
  }
  return "scan";
}
namespace {

constexpr size_t kMaxProblems = 100;

InspectMode ModeOf(InspectDepth depth) {
  switch (depth) {
    case InspectDepth::kQuick:
      return InspectMode::kQuick;
    case InspectDepth::kScan:
      return InspectMode::kScan;
    case InspectDepth::kFull:
      return InspectMode::kFull;
  }
  return InspectMode::kScan;
}

void AddProblems(VolumeInspectReport& report, const std::vector<std::string>& problems) {
  for (const auto& p : problems) {
    if (report.problems.size() < kMaxProblems) report.problems.push_back(p);
  }
}

// The vdev for a new block at `position` of `row` (design note 2): an online
// vdev not in the row, such that the row with it satisfies the query.
Result<size_t> ChooseReplacement(const Pool& pool, const Query& query, const LunRowDesc& row,
                                 uint32_t position, uint64_t rotation) {
  std::vector<Resource> resources = VdevResources(pool);
  std::vector<Resource> fixed;
  for (uint32_t p = 0; p < row.blocks.size(); p++) {
    if (p == position) continue;
    auto it = std::find_if(resources.begin(), resources.end(),
                           [&](const Resource& r) { return r.id == row.blocks[p].vdev; });
    if (it != resources.end()) fixed.push_back(*it);
  }
  const size_t n = resources.size();
  for (size_t k = 0; k < n; k++) {
    size_t i = (rotation + k) % n;
    const PoolVdev& v = pool.vdevs()[i];
    if (!v.device->online()) continue;
    bool in_row = std::any_of(row.blocks.begin(), row.blocks.end(),
                              [&](const LunBlock& b) { return b.vdev == v.config.name; });
    if (in_row) continue;
    std::vector<Resource> candidate = fixed;
    candidate.push_back(resources[i]);
    if (Select(query, candidate, candidate.size())) return i;
  }
  return Err(Code::kNoSpace, "no online vdev can take the block at position {} of the row at {}", position,
             row.seg_offset);
}

}  // namespace

Result<uint64_t> Storage::Impl::ReplaceLostBlocks(VolumeImpl& volume, LunSegment& lun,
                                                  VolumeInspectReport& report) {
  Pool& pool = db_->pool();
  Query query = TRY(ParseQuery(lun.query()));
  std::vector<LunBlock> old_blocks;
  uint64_t rotation = 0;
  // Design note 2a.
  auto hold = db_->HoldCommits();
  for (const LunRowDesc& row_at_start : lun.Rows()) {
    LunRowDesc row = row_at_start;
    for (uint32_t p = 0; p < row.blocks.size(); p++) {
      const LunBlock& b = row.blocks[p];
      const PoolVdev* v = pool.Find(b.address.tier(), b.address.vdev());
      if (v != nullptr && v->device->online()) continue;
      auto chosen = ChooseReplacement(pool, query, row, p, rotation++);
      if (!chosen) {
        if (report.problems.size() < kMaxProblems) report.problems.push_back(chosen.error().message());
        continue;
      }
      const PoolVdev& target = pool.vdevs()[*chosen];
      auto address = db_->AllocateExtent(volume.dataset(), target.config.tier, target.config.index,
                                         BlockCount{b.size / kBlockSize});
      if (!address) {
        if (report.problems.size() < kMaxProblems) {
          report.problems.push_back(fmt::format("row at {}: no space on vdev '{}' for a new block: {}",
                                                row.seg_offset, target.config.name, address.error().message()));
        }
        continue;
      }
      LunBlock fresh{.id = RandomId63(), .address = *address, .size = b.size, .vdev = target.config.name};
      LunBlock old = TRY(lun.ReplaceBlock(row.seg_offset, p, fresh));
      Log(LogLevel::kInfo, "volume '{}': row at {}: block on vdev '{}' replaced by one on '{}'", volume.name(),
          row.seg_offset, old.vdev, fresh.vdev);
      row.blocks[p] = fresh;
      old_blocks.push_back(old);
    }
  }
  if (old_blocks.empty()) return 0;
  // Design note 2b.
  std::set<uint64_t> snapshots_name = TRY(SnapshotDataBlocks(*db_, volume.name()));
  // Design note 2a: the exNode, then the frees, then one commit for both.
  TRY_STATUS(volume.SaveExnode());
  for (const LunBlock& old : old_blocks) {
    if (snapshots_name.contains(old.address.raw)) continue;
    auto freed = db_->FreeExtent(volume.dataset(), old.address);
    if (!freed) Log(LogLevel::kWarn, "volume '{}': freeing replaced block {}: {}", volume.name(),
                    old.address.ToString(), freed.error().ToString());
  }
  hold.Release();
  TRY_STATUS(CommitAll());
  return old_blocks.size();
}

Status Storage::Impl::VerifyMappedBlocks(VolumeImpl& volume, VolumeInspectReport& report,
                                         const ProgressFn& progress) {
  constexpr uint64_t kPiece = 1 << 20;
  std::vector<SegmentExtent> extents = TRY(volume.log().Extents(0, volume.size()));
  uint64_t total = 0, done = 0;
  for (const auto& e : extents) total += e.hole ? 0 : e.length;
  std::vector<std::byte> buffer(kPiece);
  for (const auto& e : extents) {
    if (e.hole) continue;
    for (uint64_t at = e.offset; at < e.offset + e.length; at += kPiece) {
      uint64_t n = std::min(kPiece, e.offset + e.length - at);
      if (progress) progress(Progress{.what = "bytes of " + volume.name(), .done = done, .total = total});
      done += n;
      report.checked += n / kBlockSize;
      if (volume.log().Read(at, std::span(buffer).first(n))) continue;
      // Block by block, to count (and name) the bad ones.
      for (uint64_t b = at; b < at + n; b += kBlockSize) {
        Status s = volume.log().Read(b, std::span(buffer).first(kBlockSize));
        if (s) continue;
        report.bad++;
        report.unrecoverable++;
        if (report.problems.size() < kMaxProblems) {
          report.problems.push_back(fmt::format("block at byte {}: {}", b, s.error().message()));
        }
      }
    }
  }
  if (progress) progress(Progress{.what = "bytes of " + volume.name(), .done = done, .total = total});
  return Ok();
}

Result<VolumeInspectReport> Storage::Impl::InspectHeld(std::unique_lock<std::mutex>& lock,
                                                       const std::string& name, InspectDepth depth,
                                                       bool repair, bool replace_lost,
                                                       const ProgressFn& progress) {
  TRY_STATUS(RefuseSnapshotName(name, repair ? "volume inspect --repair" : "volume inspect"));
  auto volume = TRY(OpenVolumeLocked(name));
  return WithHold(lock, {name}, Hold::kShared, [&]() -> Result<VolumeInspectReport> {
    return InspectOpen(*volume, depth, repair, replace_lost, progress);
  });
}

Result<VolumeInspectReport> Storage::Impl::InspectOpen(VolumeImpl& volume, InspectDepth depth,
                                                       bool repair, bool replace_lost,
                                                       const ProgressFn& progress) {
  const std::string& name = volume.name();
  VolumeInspectReport report{.volume = name, .depth = std::string(InspectDepthName(depth)), .repair = repair};
  // Cached writes go down first; if that fails (too many vdevs gone), the
  // inspection of what is on disk is still worth having.
  if (Status flushed = volume.Flush(); !flushed) {
    report.problems.push_back(fmt::format("flushing the volume first failed: {}", flushed.error().message()));
  }
  DataSegment& data = *volume.parts().data;
  if (data.parity() == 0) {
    InspectReport layout = TRY(data.Inspect(InspectMode::kQuick));
    report.checked += layout.checked;
    report.bad += layout.bad;
    AddProblems(report, layout.problems);
    if (depth != InspectDepth::kQuick) TRY_STATUS(VerifyMappedBlocks(volume, report, progress));
    return report;
  }
  if (repair && replace_lost) report.replaced_blocks = TRY(ReplaceLostBlocks(volume, data.lun(), report));
  RowInspectOptions options{.repair = repair, .live_end = volume.log().HeadOffset()};
  if (progress) {
    options.progress = [&](uint64_t done, uint64_t total) {
      progress(Progress{.what = "stripes of " + name, .done = done, .total = total});
    };
  }
  InspectReport r = TRY(data.InspectRows(ModeOf(depth), options));
  report.checked += r.checked;
  report.bad += r.bad;
  report.repaired += r.repaired;
  report.unrecoverable += r.unrecoverable;
  AddProblems(report, r.problems);
  if (repair) TRY_STATUS(data.Flush());
  return report;
}

Result<VolumeInspectReport> Storage::Impl::InspectVolume(const std::string& name, InspectDepth depth,
                                                         bool repair, const ProgressFn& progress) {
  std::lock_guard work(work_mu_);
  auto lock = LockIdle(name);
  return InspectHeld(lock, name, depth, repair, /*replace_lost=*/true, progress);
}

}  // namespace tessera
