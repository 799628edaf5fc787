// Log segment: the base of a clone, and flattening it away.
//
// Design notes
//  1. The base is a read-only segment (a snapshot of the origin volume) that
//     never changes while the log uses it. Reads of never-written blocks fall
//     through to it (log_read.cc); trims record zero mappings over its data
//     (contract 5), so holes in the mapping only ever shrink.
//  2. AdoptBase copies, one batch at a time, the blocks of a range that are
//     unmapped in the tree but hold data in the base. Because the check and
//     the append happen under mu_ with the log drained (no batch in flight),
//     a write or trim of the same block is ordered before (then the block is
//     mapped and skipped) or after (then it supersedes the copy). A write
//     still sitting in a cache above the log reaches the log later, with a
//     later sequence number, so it wins as well.
//  3. Copies are ordinary data batches: replay, row counters and the cleaner
//     treat them like any other write.
//  4. DetachBase only forgets the base in memory; the caller saves the
//     exNode (without `base`) and commits, which is the one durable step.
#include <cstring>

#include "core/segment/log_segment.h"
#include "core/util/aligned_buffer.h"
#include "core/util/checksum.h"

namespace tessera {

void LogSegment::SetBase(std::shared_ptr<Segment> base, std::string name) {
  std::lock_guard lock(base_mu_);
  base_ = std::move(base);
  base_name_ = std::move(name);
}

std::shared_ptr<Segment> LogSegment::base() const {
  std::lock_guard lock(base_mu_);
  return base_;
}

std::string LogSegment::base_name() const {
  std::lock_guard lock(base_mu_);
  return base_name_;
}

void LogSegment::DetachBase() {
  std::lock_guard lock(base_mu_);
  base_.reset();
  base_name_.clear();
}

Result<std::vector<std::pair<uint64_t, uint64_t>>> LogSegment::BaseDataRuns(Segment& base, uint64_t first_lba,
                                                                            uint64_t count) {
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  if (count == 0) return runs;
  for (const SegmentExtent& e : TRY(base.Extents(first_lba * kBlockSize, count * kBlockSize))) {
    if (!e.hole) runs.emplace_back(e.offset / kBlockSize, (e.offset + e.length) / kBlockSize);
  }
  return runs;
}

Result<uint64_t> LogSegment::AdoptBase(uint64_t first_lba, uint64_t count) {
  auto base = this->base();
  if (!base) return 0;
  uint64_t limit = std::min(Size(), base->Size()) / kBlockSize;
  if (first_lba >= limit) return 0;
  count = std::min(count, limit - first_lba);
  uint64_t copied = 0;
  AlignedBuffer chunk(kLogMaxEntries * kBlockSize);
  for (uint64_t at = first_lba; at < first_lba + count;) {
    uint64_t n = std::min<uint64_t>(kLogMaxEntries, first_lba + count - at);
    Status status = Ok();
    uint64_t batch = 0;
    {
      auto lock = LockDrained();
      std::vector<bool> wanted(n, false);
      for (auto [first, end] : TRY(BaseDataRuns(*base, at, n))) {
        for (uint64_t lba = first; lba < end; lba++) wanted[lba - at] = true;
      }
      TRY_STATUS(tree_->Scan(MappingKey(at), MappingKey(at + n), [&](std::string_view k, std::string_view) {
        wanted[MappingKeyLba(k) - at] = false;
        return true;
      }));
      LogHeader header{.kind = LogBatchKind::kData};
      std::vector<BlockWrite> blocks;
      for (uint64_t i = 0; i < n;) {
        if (!wanted[i]) {
          i++;
          continue;
        }
        uint64_t j = i;
        while (j < n && wanted[j]) j++;
        // One base read per run of wanted blocks, packed into the chunk.
        auto run = chunk.span().subspan(blocks.size() * kBlockSize, (j - i) * kBlockSize);
        TRY_STATUS(base->Read((at + i) * kBlockSize, run));
        for (uint64_t k = i; k < j; k++) {
          auto block = run.subspan((k - i) * kBlockSize, kBlockSize);
          header.entries.push_back(LogEntry{.a = at + k, .b = Checksum64(block)});
          blocks.push_back(BlockWrite{.offset = (at + k) * kBlockSize, .data = block});
        }
        i = j;
      }
      if (!blocks.empty()) status = AppendLocked(header, blocks);
      batch = blocks.size();
    }
    if (!status) {
      if (status.error().code() != Code::kNoSpace) return Err(status.error());
      TRY_STATUS(KeepRows());  // a new row first, then the same range again
      continue;
    }
    copied += batch;
    at += n;
    if (SpareRows() < 1) TRY_STATUS(KeepRows());
  }
  return copied;
}

Result<uint64_t> LogSegment::BlocksReadFromBase() {
  auto base = this->base();
  if (!base) return 0;
  uint64_t limit = std::min(Size(), base->Size()) / kBlockSize;
  uint64_t remaining = 0;
  for (auto [first, end] : TRY(BaseDataRuns(*base, 0, limit))) {
    uint64_t mapped = 0;
    TRY_STATUS(tree_->Scan(MappingKey(first), MappingKey(end), [&](std::string_view, std::string_view) {
      mapped++;
      return true;
    }));
    remaining += (end - first) - mapped;
  }
  return remaining;
}

}  // namespace tessera
