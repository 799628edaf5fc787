// Log segment: crash recovery.
//
// Design notes
//  1. Replay starts at the committed head (tree key 'h'; none: the start of
//     the data segment, epoch 0, seq 0) and applies batches while each is
//     valid: header verifies, volume id, epoch and seq are the expected ones,
//     its offset field names where it was found, it fits in its row, and
//     (data batches) every block matches its checksum.
//  2. When the batch at the expected position does not verify, the later
//     row starts are tried too, in order: the writer skips the rest of a row
//     when a batch does not fit (contract 2 of log_segment.cc), and a volume
//     move skips whole rows (SkipToRow, log_segment.h). Only the expected
//     epoch and seq verify, and each seq of an epoch is placed once, so no
//     stale batch of a later row is taken for the next one.
//     A read error (e.g. an erasure-coded stripe whose write was torn by the
//     crash) also ends the log.
//  3. The first batch that fails ends the log: it was never acknowledged as
//     flushed, because Flush waits for every batch before it.
//  3a. Before a batch is applied, its whole footprint must hold complete
//     writes of the data segment (DataSegment::VerifyWritten; for an
//     erasure-coded one: every stripe decodable, its bad chunks rewritten).
//     Reading the batch's blocks is not enough: a crash can tear the stripe
//     write under a batch that was never acknowledged so that the blocks
//     read back (the data chunks holding them landed) while the rest of the
//     stripe, the padding's chunks and the parity, did not. Accepting such a
//     batch would leave, below the head, a stripe with fewer than K good
//     chunks: nothing a scrub or a vdev replacement can rebuild. Rejected,
//     the batch ends the log like any torn batch, and the next batch
//     overwrites its stripes. A batch that was acknowledged passes: its
//     stripes were whole when flushed, and at most M chunks of each may be
//     bad since (they are rebuilt here).
//  4. Afterwards the epoch is bumped; batches written from now on carry it, so
//     stale batches of the old epoch beyond the head can never verify.
//  5. A batch that verifies but names blocks outside the volume (a data LBA
//     at or past its end, an empty trim, or a trim whose end passes the end
//     or wraps around) was never written by the log: replay stops with
//     Corruption naming it, rather than mapping blocks nobody can read or
//     deleting a wrapped range. The volume's size at replay is the committed
//     one, which covers every batch after the committed head: a shrink
//     commits its size before it trims past the new end, and a grow's
//     kTrimPastEnd batch starts at the end it was written under, the
//     committed one when the grow's commit did not happen (log_segment.cc,
//     design note 6). Such a batch must start exactly at the end.
#include "core/segment/log_segment.h"
#include "core/util/aligned_buffer.h"
#include "core/util/checksum.h"

namespace tessera {
namespace {

// Design note 5.
Status CheckBatchInVolume(uint64_t volume_id, const LogHeader& h, uint64_t volume_blocks) {
  for (const LogEntry& e : h.entries) {
    bool inside = false;
    switch (h.kind) {
      case LogBatchKind::kData: inside = e.a < volume_blocks; break;
      case LogBatchKind::kTrim: inside = e.b > 0 && e.a < volume_blocks && e.b <= volume_blocks - e.a; break;
      case LogBatchKind::kTrimPastEnd: inside = e.b > 0 && e.a == volume_blocks && e.a + e.b > e.a; break;
    }
    if (!inside) {
      bool data = h.kind == LogBatchKind::kData;
      return Err(Code::kCorruption,
                 "volume {}: log batch {} at data offset {} {} block {} (+{}) {} the volume's {} blocks", volume_id,
                 h.seq, h.offset, data ? "writes" : "trims", e.a, data ? 1 : e.b,
                 h.kind == LogBatchKind::kTrimPastEnd ? "not starting at the end of" : "outside", volume_blocks);
    }
  }
  return Ok();
}

}  // namespace

Result<uint64_t> LogSegment::Replay() {
  auto lock = LockDrained();
  auto stored = TRY(tree_->Get(kLogHeadKey));
  LogHead head = stored ? TRY(DecodeLogHead(*stored)) : LogHead{};
  uint64_t row = data_->row_bytes();
  uint64_t pos = head.offset;
  uint64_t seq = head.seq;
  uint64_t replayed = 0;
  AlignedBuffer header_block(kBlockSize);

  auto try_header = [&](uint64_t at) -> std::optional<LogHeader> {
    if (at + kBlockSize > data_->Size()) return std::nullopt;
    if (!data_->Read(at, header_block.span())) return std::nullopt;
    auto h = DecodeLogHeader(header_block.span());
    if (!h || h->volume_id != volume_id_ || h->epoch != head.epoch || h->seq != seq || h->offset != at) {
      return std::nullopt;
    }
    if (at % row + Footprint(*h) > row) return std::nullopt;
    return *h;
  };

  for (;;) {
    std::optional<LogHeader> h = try_header(pos);
    for (uint64_t next_row = (pos / row + 1) * row; !h && next_row < data_->Size(); next_row += row) {
      h = try_header(next_row);
      if (h) pos = next_row;
    }
    if (!h) break;
    TRY_STATUS(CheckBatchInVolume(volume_id_, *h, size_ / kBlockSize));
    if (!data_->VerifyWritten(pos, Footprint(*h))) break;  // design note 3a
    if (h->kind == LogBatchKind::kData) {
      AlignedBuffer data(h->entries.size() * kBlockSize);
      if (!data_->Read(pos + kBlockSize, data.span())) break;
      bool intact = true;
      for (size_t i = 0; i < h->entries.size() && intact; i++) {
        intact = Checksum64(data.span().subspan(i * kBlockSize, kBlockSize)) == h->entries[i].b;
      }
      if (!intact) break;
    }
    TRY_STATUS(ApplyBatchLocked(*h, pos));
    pos += Footprint(*h);
    seq++;
    replayed++;
  }
  head_ = LogHead{.offset = pos, .seq = seq, .epoch = head.epoch + 1};
  reserve_ = head_;
  recorded_head_ = head.offset;
  stats_.replayed_batches += replayed;
  return replayed;
}

}  // namespace tessera
