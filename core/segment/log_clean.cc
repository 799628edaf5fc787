// Log segment: what the cleaner needs to reclaim rows.
//
// Design notes
//  1. A row's live blocks are found from its own batches: the row is walked
//     header by header from its start (batches are contiguous within a row),
//     and a block is live when the current mapping of its LBA still points
//     at it. Stale or foreign headers end the walk (volume id and the offset
//     field must match), so garbage after the last batch is never trusted.
//  2. Relocation runs one batch at a time under mu_ with the log drained (no
//     batch in flight): the liveness check and the append happen with no
//     other append in between, so a block overwritten meanwhile can never be
//     resurrected.
//  3. Relocated data is verified against its mapping's checksum before it is
//     written again; a mismatch stops the relocation with Corruption rather
//     than spreading bad data.
//  4. The row is read once, in order, in windows of kRelocateWindowBytes
//     (RowWindow), not a read per header and per block: a 64 MiB row of 4K
//     batches was over 16,000 small reads. The read happens before mu_ is
//     taken: the cleaner only relocates rows wholly before the head recorded
//     by the last commit (volume_clean.cc note 1), and nothing is appended
//     there until the row is freed, so the bytes read are the bytes the
//     liveness check under mu_ speaks of. When a window cannot be read, the
//     block asked for is read alone, so one bad stripe costs what it cost
//     before: the walk ends there (note 1), the blocks after it are not
//     moved, and the row keeps a live count and is not freed.
//  5. Buffers are not zeroed: every byte used is read first.
#include <algorithm>
#include <cstring>

#include "core/segment/log_segment.h"
#include "core/util/aligned_buffer.h"
#include "core/util/checksum.h"
#include "core/tree/message_action.h"

namespace tessera {

Result<std::map<uint64_t, int64_t>> LogSegment::RowLiveBlocks() {
  std::map<uint64_t, int64_t> out;
  TRY_STATUS(tree_->Scan(RowKey(0), RowKey(UINT64_MAX), [&](std::string_view k, std::string_view v) {
    out[RowKeyStart(k)] = DecodeCounter(v);
    return true;
  }));
  return out;
}

uint64_t LogSegment::ReclaimableBefore() const {
  std::lock_guard lock(mu_);
  return RowStart(recorded_head_);
}

Status LogSegment::ForgetRow(uint64_t row_start) { return tree_->Delete(RowKey(row_start)); }

Status LogSegment::SkipToRow(uint64_t row_start) {
  auto lock = LockDrained();  // no batch in flight: head_ is reserve_
  const uint64_t row = data_->row_bytes();
  const bool has_row =
      std::ranges::any_of(data_->Rows(), [&](const LunRowDesc& r) { return r.seg_offset == row_start; });
  if (row_start % row != 0 || !has_row) {
    return Err(Code::kInvalidArgument, "log of volume {}: cannot skip to data offset {}: not the start of a row",
               volume_id_, row_start);
  }
  if (row_start / row <= reserve_.offset / row) return Ok();  // the head is there already, or past it
  reserve_.offset = row_start;
  head_.offset = row_start;
  return Ok();
}

namespace {

constexpr uint64_t kRelocateWindowBytes = 4ull << 20;

// Reads [begin, end) of a data segment forward, one window at a time
// (design note 4).
class RowWindow {
 public:
  RowWindow(DataSegment& data, uint64_t begin, uint64_t end)
      : data_(data), end_(end), buffer_(std::min(kRelocateWindowBytes, end - begin), AlignedBuffer::Uninitialized{}) {}

  // The block at `pos` (pos + kBlockSize <= end), valid until the next call.
  Result<std::span<const std::byte>> Block(uint64_t pos) {
    if (pos < start_ || pos + kBlockSize > start_ + length_) {
      length_ = std::min<uint64_t>(buffer_.size(), end_ - pos);
      start_ = pos;
      if (!data_.Read(pos, buffer_.span().first(length_))) {
        length_ = kBlockSize;
        if (auto read = data_.Read(pos, buffer_.span().first(length_)); !read) {
          length_ = 0;
          return std::unexpected(read.error());
        }
      }
    }
    return std::span<const std::byte>(buffer_.data() + (pos - start_), kBlockSize);
  }

 private:
  DataSegment& data_;
  const uint64_t end_;
  AlignedBuffer buffer_;
  uint64_t start_ = 0;
  uint64_t length_ = 0;
};

}  // namespace

uint64_t LogSegment::RelocationRoom() const {
  std::lock_guard lock(mu_);
  const uint64_t row = data_->row_bytes();
  const uint64_t end = data_->Size();
  const uint64_t pos = std::min(reserve_.offset, end);
  // RelocateRow stages a row's entries, live or not, kLogMaxEntries at a
  // time, and the batches are cut again at each row's end (design note 2).
  // Each takes a header and at most a stripe's padding: a stripe's blocks.
  const uint64_t rows_crossed = (end - pos + row - 1) / row;
  const uint64_t batches = row / kBlockSize / kLogMaxEntries + 1 + rows_crossed;
  const uint64_t overhead = batches * std::max<uint64_t>(1, data_->stripe_bytes() / kBlockSize);
  const uint64_t free_blocks = (end - pos) / kBlockSize;
  return free_blocks > overhead ? free_blocks - overhead : 0;
}

Status LogSegment::RelocateRow(uint64_t row_start) {
  const uint64_t row_end = row_start + data_->row_bytes();
  RowWindow row(*data_, row_start, row_end);
  // Up to kLogMaxEntries candidate blocks, staged with their data.
  AlignedBuffer staged(kLogMaxEntries * kBlockSize, AlignedBuffer::Uninitialized{});
  std::vector<std::pair<uint64_t, uint64_t>> candidates;  // (lba, data offset)
  candidates.reserve(kLogMaxEntries);
  auto relocate_staged = [&]() -> Status {
    auto lock = LockDrained();
    LogHeader header{.kind = LogBatchKind::kData};
    std::vector<BlockWrite> blocks;
    for (size_t i = 0; i < candidates.size(); i++) {
      auto [lba, offset] = candidates[i];
      auto value = TRY(tree_->Get(MappingKey(lba)));
      if (!value) continue;
      Mapping m = TRY(DecodeMapping(*value));
      if (m.data_offset != offset) continue;
      auto block = staged.span().subspan(i * kBlockSize, kBlockSize);
      if (Checksum64(block) != m.checksum) {
        stats_.checksum_failures++;
        return Err(Code::kCorruption, "volume {} block {}: checksum mismatch at data offset {} while cleaning",
                   volume_id_, lba, offset);
      }
      header.entries.push_back(LogEntry{.a = lba, .b = m.checksum});
      blocks.push_back(BlockWrite{.offset = lba * kBlockSize, .data = block});
    }
    candidates.clear();
    if (blocks.empty()) return Ok();
    TRY_STATUS(AppendLocked(header, blocks));
    relocations_++;
    return Ok();
  };
  for (uint64_t pos = row_start; pos + kBlockSize <= row_end;) {
    auto header_block = row.Block(pos);
    if (!header_block) break;
    auto h = DecodeLogHeader(*header_block);
    if (!h || h->volume_id != volume_id_ || h->offset != pos || pos + Footprint(*h) > row_end) break;
    if (h->kind == LogBatchKind::kData) {
      for (size_t i = 0; i < h->entries.size(); i++) {
        uint64_t offset = pos + (i + 1) * kBlockSize;
        auto block = TRY(row.Block(offset));
        std::memcpy(staged.data() + candidates.size() * kBlockSize, block.data(), kBlockSize);
        candidates.emplace_back(h->entries[i].a, offset);
        if (candidates.size() == kLogMaxEntries) TRY_STATUS(relocate_staged());
      }
    }
    pos += Footprint(*h);
  }
  return relocate_staged();
}

}  // namespace tessera
