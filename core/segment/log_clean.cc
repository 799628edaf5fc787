// Log segment: what the cleaner needs to reclaim rows.
//
// Design notes
//  1. A row's live blocks are found from its own batches: the row is walked
//     header by header from its start (batches are contiguous within a row),
//     and a block is live when the current mapping of its LBA still points
//     at it. Stale or foreign headers end the walk (volume id and the offset
//     field must match), so garbage after the last batch is never trusted.
//  2. Relocation runs one batch at a time under mu_ with the log drained (no
//     batch in flight): the liveness check, the read of the live blocks and
//     their append happen with no other append in between, so a block
//     overwritten meanwhile can never be resurrected.
//  3. Relocated data is verified against its mapping's checksum before it is
//     written again; a mismatch stops the relocation with Corruption rather
//     than spreading bad data.
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

Status LogSegment::RelocateRow(uint64_t row_start) {
  uint64_t row_end = row_start + data_->row_bytes();
  // Candidates: every data block the row's batches hold.
  std::vector<std::pair<uint64_t, uint64_t>> candidates;  // (lba, data offset)
  AlignedBuffer header_block(kBlockSize);
  for (uint64_t pos = row_start; pos + kBlockSize <= row_end;) {
    if (!data_->Read(pos, header_block.span())) break;
    auto h = DecodeLogHeader(header_block.span());
    if (!h || h->volume_id != volume_id_ || h->offset != pos || pos + Footprint(*h) > row_end) break;
    if (h->kind == LogBatchKind::kData) {
      for (size_t i = 0; i < h->entries.size(); i++) candidates.emplace_back(h->entries[i].a, pos + (i + 1) * kBlockSize);
    }
    pos += Footprint(*h);
  }
  for (size_t start = 0; start < candidates.size(); start += kLogMaxEntries) {
    size_t n = std::min(kLogMaxEntries, candidates.size() - start);
    auto lock = LockDrained();
    LogHeader header{.kind = LogBatchKind::kData};
    AlignedBuffer data(n * kBlockSize);
    std::vector<BlockWrite> blocks;
    for (size_t i = start; i < start + n; i++) {
      auto [lba, offset] = candidates[i];
      auto value = TRY(tree_->Get(MappingKey(lba)));
      if (!value) continue;
      Mapping m = TRY(DecodeMapping(*value));
      if (m.data_offset != offset) continue;
      auto block = data.span().subspan(blocks.size() * kBlockSize, kBlockSize);
      TRY_STATUS(data_->Read(offset, block));
      if (Checksum64(block) != m.checksum) {
        stats_.checksum_failures++;
        return Err(Code::kCorruption, "volume {} block {}: checksum mismatch at data offset {} while cleaning",
                   volume_id_, lba, offset);
      }
      header.entries.push_back(LogEntry{.a = lba, .b = m.checksum});
      blocks.push_back(BlockWrite{.offset = lba * kBlockSize, .data = block});
    }
    if (blocks.empty()) continue;
    TRY_STATUS(AppendLocked(header, blocks));
    relocations_++;
  }
  return Ok();
}

}  // namespace tessera
