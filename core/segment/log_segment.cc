// Log segment: appending batches, trims, the head, rows.
//
// Design notes
//  1. Appends run in three steps so that batches of different writers reach
//     the device at the same time:
//       place   (mu_)    the batch gets its position and sequence number
//                        from reserve_, which moves past it; in_flight_++.
//       write   (no lock) header + data in one WriteBlocks.
//       apply   (mu_)    in sequence order: wait until head_.seq is the
//                        batch's, change the tree, advance head_.
//     So the tree still changes batch by batch in log order (contract 1),
//     and a write is acknowledged only once every batch before it is in the
//     data segment (what replay needs, contract 4).
//     A failed write or apply marks the log broken: every later batch in
//     flight fails too (replay would stop at the gap anyway), placing waits,
//     and when the last one is out, reserve_ goes back to head_ and the next
//     batch simply overwrites whatever the failed ones left.
//     Relocation and base adoption must see no batch between their liveness
//     check and their apply: they append with the log drained
//     (LockDrained), the whole batch under mu_.
//  2. A batch never straddles rows. A data batch that does not fit in the
//     rest of the head's row is cut at the row's end (its first part fills
//     the row, the rest starts the next), whether the data segment pads
//     batches to stripes or not (the rest of a row is whole stripes then).
//     So the batches of a row tile it from its start to its end, and no
//     stripe below the head is left holding what a failed or torn batch
//     wrote there: the next batches overwrite everything from the head on.
//     A row whose end is skipped instead would keep such a stripe below the
//     head for good, and an erasure-coded one reads as an incomplete or
//     undecodable stripe to every inspection and scrub (tests/thrash/
//     README.md, bug 7). Only a batch that cannot be cut (a trim, or a
//     data batch when the row has room for its header alone) goes whole to
//     the start of the next row (Replay knows to look there).
//  3. Unaligned writes are split head / aligned body / tail; the partial
//     edge blocks are read, patched and written as whole blocks.
//  4. A batch is written as one buffer (header, blocks, zero padding) when
//     its data segment is striped, it is padded to stripes, at most 256 KiB,
//     or holds blocks not aligned in memory (O_DIRECT would copy those
//     anyway): one device request instead of two. A large batch of aligned
//     blocks (cache pages) goes down as it is, without a copy; the pool
//     merges its blocks. Gather buffers are reused from batch to batch, a
//     few kept for the whole process (GatherBuffers).
//  5. The last eighth of the last row is kept for trims: a client's data
//     batch that would reach into it first grows the log (the RowKeeper),
//     and when the pool has no room for a row the write fails with NoSpace.
//     Trims may use it, so a client of a full pool can still trim and give
//     space back. A batch that is in succeeds even when the log cannot grow
//     after it; the cleaner and a commit make room later. A batch cut at a
//     row's end calls the RowKeeper before its rest goes on when the new
//     row is the last: in a full pool the cleaner then has that whole row
//     to relocate a row's live blocks into.
//  6. A resize is complete or absent after a crash, so the size and the
//     mappings past it change in this order. A shrink sets the size alone;
//     its caller commits the smaller exNode, then TrimPastEnd deletes what
//     lies past the new end. A trim logged before the commit would be
//     replayed under the old size after a crash in that commit (the volume
//     would keep its size and read zeros at its end: tests/thrash/README.md,
//     bug 11). A crash between the commit and TrimPastEnd leaves those
//     blocks mapped past the end, where nothing reads them; so a grow first
//     trims the range it adds (a kTrimPastEnd batch starting at the old
//     end), and the blocks are gone before the range can be read. Replay
//     accepts a kTrimPastEnd batch only where it starts at the volume's end.
//  7. Applying a data batch keeps the row counters exact, so it must know
//     each block's old mapping. For a run of consecutive LBAs (a large write,
//     a sequential write-back) one Scan over the run reads them all, instead
//     of a Get, a descent of the tree, per block. A run holds no LBA twice,
//     so reading the whole run before inserting it sees what a Get before
//     each insert would; runs are applied in order, so a later run sees the
//     earlier ones' inserts, as before.
#include "core/segment/log_segment.h"

#include "core/util/align.h"
#include "core/util/aligned_buffer.h"
#include "core/util/checksum.h"

#include <algorithm>
#include <cstring>

namespace tessera {
namespace {

// Design note 7: runs at least this long are read with one Scan.
constexpr size_t kScanRunMin = 4;

// Design note 4: gather buffers are reused between batches, so their pages
// are not faulted in afresh for every batch (fresh large buffers come from
// mmap). A few are kept for the whole process, not one per thread: a server
// has a thread per request in flight on every connection (800 with 50
// connections), and a buffer each would hold hundreds of MiB outside the
// memory budget.
constexpr size_t kGatherBuffersKept = 8;

class GatherBuffers {
 public:
  AlignedBuffer Take(size_t bytes) {
    {
      std::lock_guard lock(mu_);
      for (size_t i = 0; i < kept_.size(); i++) {
        if (kept_[i].size() >= bytes) {
          AlignedBuffer buffer = std::move(kept_[i]);
          kept_.erase(kept_.begin() + static_cast<ptrdiff_t>(i));
          return buffer;
        }
      }
    }
    return AlignedBuffer(bytes, AlignedBuffer::Uninitialized{});
  }
  void Give(AlignedBuffer buffer) {
    std::lock_guard lock(mu_);
    if (kept_.size() < kGatherBuffersKept) kept_.push_back(std::move(buffer));
  }

 private:
  std::mutex mu_;
  std::vector<AlignedBuffer> kept_;  // GUARDED_BY(mu_)
};

GatherBuffers& Gather() {
  static GatherBuffers* buffers = new GatherBuffers();  // never destroyed: threads may outlive statics
  return *buffers;
}

}  // namespace

LogSegment::LogSegment(uint64_t id, uint64_t volume_id, uint64_t size, Tree* tree,
                       std::shared_ptr<DataSegment> data, std::shared_ptr<Segment> base, RowKeeper keeper)
    : id_(id), volume_id_(volume_id), tree_(tree), data_(std::move(data)), keeper_(std::move(keeper)),
      base_(std::move(base)), size_(size) {}

uint64_t LogSegment::Size() const {
  std::lock_guard lock(mu_);
  return size_;
}

LogStats LogSegment::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

uint64_t LogSegment::HeadOffset() const {
  std::lock_guard lock(mu_);
  return head_.offset;
}

uint64_t LogSegment::SpareRows() const {
  std::lock_guard lock(mu_);
  uint64_t row = data_->row_bytes();
  uint64_t rows = data_->Size() / row;
  uint64_t head_row = reserve_.offset / row;
  return rows > head_row + 1 ? rows - head_row - 1 : 0;
}

Result<uint64_t> LogSegment::PlaceLocked(uint64_t bytes) const {
  uint64_t row = data_->row_bytes();
  uint64_t pos = reserve_.offset;
  if (pos % row + bytes > row) pos = (pos / row + 1) * row;
  if (pos + bytes > data_->Size()) {
    return Err(Code::kNoSpace, "log of volume {} needs a new data row", volume_id_);
  }
  return pos;
}

Status LogSegment::KeepRows() {
  if (!keeper_) return Err(Code::kNoSpace, "log of volume {} is full and cannot grow", volume_id_);
  return keeper_();
}

uint64_t LogSegment::Footprint(const LogHeader& header) const {
  uint64_t unit = data_->stripe_bytes();
  return (header.Span() + unit - 1) / unit * unit;
}

Result<LogHeader> LogSegment::PlaceBatchLocked(LogHeader header) {
  const uint64_t pos = TRY(PlaceLocked(Footprint(header)));
  header.volume_id = volume_id_;
  header.epoch = reserve_.epoch;
  header.seq = reserve_.seq;
  header.offset = pos;
  reserve_.offset = pos + Footprint(header);
  reserve_.seq++;
  in_flight_++;
  return header;
}

Status LogSegment::WriteBatch(const LogHeader& header, std::span<const BlockWrite> blocks) {
  const uint64_t pos = header.offset;
  const uint64_t footprint = Footprint(header);
  if (heat_) heat_->Touch(pos, footprint);
  // Design note 4: small, unaligned or padded batches go down as one buffer.
  constexpr uint64_t kGatherBelow = 256 << 10;
  bool aligned = std::all_of(blocks.begin(), blocks.end(), [](const BlockWrite& b) {
    return reinterpret_cast<uintptr_t>(b.data.data()) % kBlockSize == 0;
  });
  // A striped data segment takes whole stripes only, in one request each.
  bool striped = data_->stripe_bytes() > kBlockSize;
  if (footprint != header.Span() || footprint <= kGatherBelow || !aligned || striped) {
    AlignedBuffer buffer = Gather().Take(footprint);
    std::span<std::byte> gathered = buffer.span().first(footprint);
    EncodeLogHeader(header, gathered.first(kBlockSize));  // fills the whole block
    for (size_t i = 0; i < blocks.size(); i++) {
      std::memcpy(gathered.data() + (i + 1) * kBlockSize, blocks[i].data.data(), kBlockSize);
    }
    const uint64_t used = header.Span();  // zeros past the batch pad it to whole stripes
    std::memset(gathered.data() + used, 0, footprint - used);
    Status written = data_->Write(pos, gathered, kWriteNone);
    Gather().Give(std::move(buffer));
    return written;
  }
  AlignedBuffer block(kBlockSize);
  EncodeLogHeader(header, block.span());
  std::vector<BlockWrite> writes;
  writes.reserve(blocks.size() + 1);
  writes.push_back(BlockWrite{.offset = pos, .data = block.span()});
  for (size_t i = 0; i < blocks.size(); i++) {
    writes.push_back(BlockWrite{.offset = pos + (i + 1) * kBlockSize, .data = blocks[i].data});
  }
  return data_->WriteBlocks(writes);
}

Status LogSegment::ApplyInTurnLocked(const LogHeader& header, Status written) {
  Status status = std::move(written);
  if (head_.seq != header.seq) {  // an earlier batch failed (design note 1)
    status = Err(Code::kIOError, "volume {}: an earlier log batch failed; batch {} is dropped", volume_id_,
                 header.seq);
  } else if (status) {
    status = ApplyBatchLocked(header, header.offset);
  }
  if (status) {
    if (header.kind == LogBatchKind::kData) {
      stats_.blocks_written += header.entries.size();
    } else {
      stats_.trims++;
    }
    head_.offset = header.offset + Footprint(header);
    head_.seq++;
    stats_.batches++;
  } else {
    broken_ = true;
  }
  if (--in_flight_ == 0 && broken_) {
    reserve_ = head_;
    broken_ = false;
  }
  turn_.notify_all();
  return status;
}

std::unique_lock<std::mutex> LogSegment::LockDrained() const {
  std::unique_lock lock(mu_);
  drain_waiters_++;
  turn_.wait(lock, [&] { return in_flight_ == 0; });
  drain_waiters_--;
  turn_.notify_all();
  return lock;
}

Status LogSegment::AppendLocked(LogHeader header, std::span<const BlockWrite> blocks) {
  for (;;) {
    // Design note 2: cut at the row's end, as Append does.
    size_t took = header.kind == LogBatchKind::kData ? FitLocked(blocks.size()) : blocks.size();
    LogHeader part = header;
    if (took < blocks.size()) part.entries.resize(took);
    LogHeader placed = TRY(PlaceBatchLocked(std::move(part)));
    Status written = WriteBatch(placed, blocks.first(took));
    TRY_STATUS(ApplyInTurnLocked(placed, std::move(written)));
    if (took == blocks.size()) return Ok();
    header.entries.erase(header.entries.begin(), header.entries.begin() + static_cast<ptrdiff_t>(took));
    blocks = blocks.subspan(took);
  }
}

Status LogSegment::ApplyBatchLocked(const LogHeader& header, uint64_t pos) {
  std::map<uint64_t, int64_t> deltas;  // row start -> live-block change
  std::optional<Error> error;
  auto count_superseded = [&](std::string_view value) -> Status {
    Mapping was = TRY(DecodeMapping(value));
    if (!was.zero()) deltas[RowStart(was.data_offset)]--;
    return Ok();
  };
  if (header.kind == LogBatchKind::kData) {
    // Design note 7: the old mappings of a run of consecutive LBAs are read
    // with one Scan, before the run's inserts.
    const std::vector<LogEntry>& entries = header.entries;
    for (size_t i = 0; i < entries.size();) {
      size_t end = i + 1;
      while (end < entries.size() && entries[end].a == entries[end - 1].a + 1) end++;
      if (end - i >= kScanRunMin) {
        TRY_STATUS(tree_->Scan(MappingKey(entries[i].a), MappingKey(entries[end - 1].a + 1),
                               [&](std::string_view, std::string_view v) {
                                 if (auto counted = count_superseded(v); !counted) error = counted.error();
                                 return !error;
                               }));
        if (error) return Err(*error);
      } else {
        for (size_t k = i; k < end; k++) {
          if (auto old = TRY(tree_->Get(MappingKey(entries[k].a)))) TRY_STATUS(count_superseded(*old));
        }
      }
      for (size_t k = i; k < end; k++) {
        Mapping m{.data_offset = pos + (k + 1) * kBlockSize, .checksum = entries[k].b};
        TRY_STATUS(tree_->Insert(MappingKey(entries[k].a), EncodeMapping(m)));
      }
      i = end;
    }
    deltas[RowStart(pos)] += static_cast<int64_t>(entries.size());
  } else {
    for (const LogEntry& e : header.entries) {
      TRY_STATUS(tree_->Scan(MappingKey(e.a), MappingKey(e.a + e.b), [&](std::string_view, std::string_view v) {
        auto m = DecodeMapping(v);
        if (!m) error = m.error();
        else if (!m->zero()) deltas[RowStart(m->data_offset)]--;
        return m.has_value();
      }));
      if (error) return Err(*error);
      TRY_STATUS(tree_->RangeDelete(MappingKey(e.a), MappingKey(e.a + e.b)));
      // A clone: where the base holds data, the trimmed blocks must not read
      // it again (contract 5).
      if (auto base = this->base(); base && e.a * kBlockSize < base->Size()) {
        uint64_t count = std::min(e.b, base->Size() / kBlockSize - e.a);
        std::string zero = EncodeMapping(Mapping{.data_offset = kZeroMapping});
        for (auto [first, end] : TRY(BaseDataRuns(*base, e.a, count))) {
          for (uint64_t lba = first; lba < end; lba++) TRY_STATUS(tree_->Insert(MappingKey(lba), zero));
        }
      }
    }
  }
  for (auto [row, delta] : deltas) {
    if (delta != 0) TRY_STATUS(tree_->Upsert(RowKey(row), kActionCounterAdd, CounterDelta(delta)));
  }
  return Ok();
}

Status LogSegment::AppendData(std::span<const BlockWrite> writes) {
  // One entry per 4 KiB block.
  std::vector<BlockWrite> blocks;
  std::vector<LogEntry> entries;
  for (const BlockWrite& w : writes) {
    for (size_t at = 0; at < w.data.size(); at += kBlockSize) {
      auto data = w.data.subspan(at, kBlockSize);
      blocks.push_back(BlockWrite{.offset = w.offset + at, .data = data});
      entries.push_back(LogEntry{.a = (w.offset + at) / kBlockSize, .b = Checksum64(data)});
    }
  }
  for (size_t start = 0; start < blocks.size(); start += kLogMaxEntries) {
    size_t n = std::min(kLogMaxEntries, blocks.size() - start);
    LogHeader header{.kind = LogBatchKind::kData};
    header.entries.assign(entries.begin() + start, entries.begin() + start + n);
    TRY_STATUS(Append(header, std::span(blocks).subspan(start, n)));
  }
  return Ok();
}

Status LogSegment::AppendTrim(uint64_t first_lba, uint64_t count) {
  return Append(LogHeader{.kind = LogBatchKind::kTrim, .entries = {{first_lba, count}}}, {});
}

size_t LogSegment::FitLocked(size_t entries) const {
  uint64_t row = data_->row_bytes();
  // Blocks to the row's end: whole stripes of a padded segment, so a batch
  // whose header and blocks fit there fits with its padding too.
  uint64_t left = (row - reserve_.offset % row) / kBlockSize;
  if (left >= entries + 1) return entries;
  return left >= 2 ? left - 1 : entries;  // room for a header and a block, or the next row
}

Status LogSegment::Append(const LogHeader& header, std::span<const BlockWrite> blocks) {
  LogHeader rest = header;
  for (int attempt = 0;;) {
    std::unique_lock lock(mu_);
    turn_.wait(lock, [&] { return !broken_ && drain_waiters_ == 0; });
    // Design note 2: a data batch that would not fit in the rest of the
    // head's row is cut there rather than moved whole to the next row.
    size_t took = rest.kind == LogBatchKind::kData ? FitLocked(blocks.size()) : blocks.size();
    LogHeader part = rest;
    if (took < blocks.size()) part.entries.resize(took);
    auto placed = part.kind == LogBatchKind::kData && EntersTrimReserveLocked(Footprint(part))
                      ? Result<LogHeader>(Err(Code::kNoSpace, "log of volume {} needs a new data row", volume_id_))
                      : PlaceBatchLocked(std::move(part));
    if (!placed) {
      lock.unlock();
      if (placed.error().code() != Code::kNoSpace || ++attempt > 3) return Err(placed.error());
      TRY_STATUS(KeepRows());  // the data segment needs a new row first
      continue;
    }
    lock.unlock();
    Status written = WriteBatch(*placed, blocks.first(took));
    lock.lock();
    turn_.wait(lock, [&] { return head_.seq == placed->seq || broken_; });
    TRY_STATUS(ApplyInTurnLocked(*placed, std::move(written)));
    lock.unlock();
    if (took == blocks.size()) break;
    rest.entries.erase(rest.entries.begin(), rest.entries.begin() + static_cast<ptrdiff_t>(took));
    blocks = blocks.subspan(took);
    // Cut at a row's end: the head starts a row. When that is the last
    // row, keeping rows now gives the cleaner the whole row to relocate
    // into (design note 5); NoSpace is for the next batch to meet.
    if (SpareRows() < 1) {
      Status kept = KeepRows();
      if (!kept && kept.error().code() != Code::kNoSpace) return kept;
    }
  }
  if (SpareRows() >= 1) return Ok();
  // The batch is in; a log that cannot grow now fails the next data batch
  // rather than this one (design note 5).
  Status kept = KeepRows();
  return kept || kept.error().code() == Code::kNoSpace ? Ok() : kept;
}

bool LogSegment::EntersTrimReserveLocked(uint64_t bytes) const {
  auto pos = PlaceLocked(bytes);
  uint64_t stripe = data_->stripe_bytes();
  uint64_t reserve = std::max(stripe, AlignDown(data_->row_bytes() / 8, stripe));
  return pos && data_->Size() >= reserve && *pos + bytes > data_->Size() - reserve;
}

Status LogSegment::WriteBlocks(std::span<const BlockWrite> writes) {
  for (const BlockWrite& w : writes) {
    TRY_STATUS(CheckRange(w.offset, w.data.size()));
    if (!IsAligned(w.offset, kBlockSize) || !IsAligned(w.data.size(), kBlockSize)) {
      return Err(Code::kInvalidArgument, "WriteBlocks at {} +{} is not 4 KiB-aligned", w.offset, w.data.size());
    }
  }
  return AppendData(writes);
}

Status LogSegment::Write(uint64_t offset, std::span<const std::byte> data, uint32_t flags) {
  TRY_STATUS(CheckRange(offset, data.size()));
  if (data.empty()) return flags & kWriteFua ? Flush() : Ok();
  uint64_t end = offset + data.size();
  uint64_t first = AlignDown(offset, kBlockSize);
  std::vector<BlockWrite> writes;
  AlignedBuffer head_block, tail_block;
  // Head: a partial first block.
  if (offset != first || end < first + kBlockSize) {
    head_block = AlignedBuffer(kBlockSize);
    TRY_STATUS(ReadBlocks(first / kBlockSize, 1, head_block.span()));
    uint64_t n = std::min<uint64_t>(end, first + kBlockSize) - offset;
    std::memcpy(head_block.data() + (offset - first), data.data(), n);
    writes.push_back(BlockWrite{.offset = first, .data = head_block.span()});
  }
  uint64_t body_start = writes.empty() ? first : first + kBlockSize;
  uint64_t body_end = AlignDown(end, kBlockSize);
  if (body_end > body_start) {
    writes.push_back(BlockWrite{.offset = body_start, .data = data.subspan(body_start - offset, body_end - body_start)});
  }
  // Tail: a partial last block that is not also the head block.
  if (end != body_end && body_end >= body_start) {
    tail_block = AlignedBuffer(kBlockSize);
    TRY_STATUS(ReadBlocks(body_end / kBlockSize, 1, tail_block.span()));
    std::memcpy(tail_block.data(), data.data() + (body_end - offset), end - body_end);
    writes.push_back(BlockWrite{.offset = body_end, .data = tail_block.span()});
  }
  TRY_STATUS(AppendData(writes));
  return flags & kWriteFua ? Flush() : Ok();
}

Status LogSegment::Flush() { return data_->Flush(); }

Status LogSegment::Trim(uint64_t offset, uint64_t length) {
  TRY_STATUS(CheckRange(offset, length));
  uint64_t end = offset + length;
  uint64_t first = *AlignUp(offset, kBlockSize);
  uint64_t last = AlignDown(end, kBlockSize);
  if (first >= last) {  // inside one block (or two partial ones): write zeros
    std::vector<std::byte> zeros(length);
    return Write(offset, zeros, kWriteNone);
  }
  if (offset < first) {
    std::vector<std::byte> zeros(first - offset);
    TRY_STATUS(Write(offset, zeros, kWriteNone));
  }
  if (end > last) {
    std::vector<std::byte> zeros(end - last);
    TRY_STATUS(Write(last, zeros, kWriteNone));
  }
  return AppendTrim(first / kBlockSize, (last - first) / kBlockSize);
}

Status LogSegment::Truncate(uint64_t new_size) {
  if (!IsAligned(new_size, kBlockSize)) {
    return Err(Code::kInvalidArgument, "volume size {} is not a multiple of 4096", new_size);
  }
  if (new_size > Size()) TRY_STATUS(TrimPastEnd(new_size));  // design note 6
  std::lock_guard lock(mu_);
  size_ = new_size;
  return Ok();
}

Status LogSegment::TrimPastEnd(uint64_t end) {
  uint64_t size = Size();
  if (end <= size) return Ok();
  return Append(LogHeader{.kind = LogBatchKind::kTrimPastEnd,
                          .entries = {{size / kBlockSize, (end - size) / kBlockSize}}},
                {});
}

Status LogSegment::RecordHead() {
  std::lock_guard lock(mu_);
  TRY_STATUS(tree_->Insert(kLogHeadKey, EncodeLogHead(head_)));
  recorded_head_ = head_.offset;
  return Ok();
}

std::string LogSegment::Signature() const { return "log/" + data_->Signature(); }

Status LogSegment::Serialize(Exnode& exnode) const {
  ExnodeSegment section{.id = id_, .type = SegmentType::kLog};
  section.Add("size", std::to_string(Size()));
  section.Add("volume_id", std::to_string(volume_id_));
  section.Add("data", std::to_string(data_->id()));
  if (std::string base = base_name(); !base.empty()) section.Add("base", base);
  exnode.segments.push_back(std::move(section));
  return data_->Serialize(exnode);
}

}  // namespace tessera
