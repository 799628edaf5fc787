// The log segment: a log-structured block store. Data is appended to a data
// segment (a lun) in self-describing, checksummed batches (log_format.h);
// the LBA -> data-offset mapping lives in the volume's B-epsilon tree.
//
// Contract
//  1. Every write and trim is a batch in the data segment before its mapping
//     change reaches the tree. Batches of several writers are written at the
//     same time, but their mapping changes are applied under mu_ strictly in
//     sequence order, so at any moment the tree reflects exactly the batches
//     before head_, and a batch is acknowledged only after every earlier one
//     is in the data segment.
//  2. RecordHead() (the database's pre-commit hook) stores head_ in the tree.
//     After a crash, Replay() re-applies, in order, every valid batch from the
//     committed head; replaying a batch whose effect is already in the tree
//     is harmless because the whole suffix is re-applied in order.
//  3. A batch is valid only with the expected epoch and sequence number, so a
//     stale batch left from before a crash is never mistaken for a new one:
//     Replay() bumps the epoch, and the caller must commit before writing.
//  4. Flush() makes every completed write durable: the data vdevs are
//     flushed, and replay will find the batches (contract 2).
//  5. Never-written blocks read from `base` (a clone's origin) or as zeros;
//     Extents reports them as holes, or as the base's extents. Trimmed blocks
//     read as zeros, base or not: with a base, a trim records zero mappings
//     (kZeroMapping) for the blocks where the base holds data, so the
//     origin's data never shows through a trimmed or zeroed range.
//     The base is immutable (a snapshot), so replaying a trim gives the same
//     zero mappings. AdoptBase/DetachBase flatten a clone (log_base.cc).
//  6. Every data block read is checked against the checksum in its mapping;
//     a mismatch is Corruption, never data.
//  7. The data segment grows by rows; the log keeps at least one spare row
//     beyond the head (EnsureRows via the RowKeeper), so that a crash never
//     leaves a batch in a row that the committed exNode does not know.
//     Client data batches leave the end of the last row to trims, so when
//     the pool is full they fail with NoSpace while trims still go through
//     (design note 5 of log_segment.cc).
//  8. Row counters ('r' keys) hold the live blocks of each row. A batch
//     looks up the old mapping of each block it writes (or trims) and moves
//     one count from the old row to the new one, so replaying a batch twice
//     nets to zero. The cleaner frees rows at zero and relocates the live
//     blocks of mostly-dead ones (RelocateRow); a read that raced with a
//     relocation retries.
//  9. Batches start and end on the data segment's stripe boundaries: a batch
//     is padded with zeros to whole stripes, so an erasure-coded data
//     segment only ever writes whole stripes (no parity update in place).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "core/segment/log_format.h"
#include "core/segment/data_segment.h"
#include "core/segment/row_heat.h"
#include "core/segment/segment.h"
#include "core/tree/tree.h"

namespace tessera {

// Called by the log, without its lock held, when fewer than `spare` rows
// remain beyond the head's row: must grow the data segment and make the new
// rows durable (exNode + commit) before returning.
using RowKeeper = std::function<Status()>;

struct LogStats {
  uint64_t batches = 0;
  uint64_t blocks_written = 0;
  uint64_t trims = 0;
  uint64_t replayed_batches = 0;
  uint64_t checksum_failures = 0;
};

class LogSegment : public Segment {
 public:
  LogSegment(uint64_t id, uint64_t volume_id, uint64_t size, Tree* tree,
             std::shared_ptr<DataSegment> data, std::shared_ptr<Segment> base, RowKeeper keeper);

  uint64_t id() const override { return id_; }
  SegmentType type() const override { return SegmentType::kLog; }
  uint64_t Size() const override;
  uint32_t BlockSize() const override { return 4096; }
  Status Read(uint64_t offset, std::span<std::byte> out) override;
  Status Write(uint64_t offset, std::span<const std::byte> data, uint32_t flags) override;
  Status WriteBlocks(std::span<const BlockWrite> writes) override;
  Status Flush() override;
  Status Trim(uint64_t offset, uint64_t length) override;
  Result<std::vector<SegmentExtent>> Extents(uint64_t offset, uint64_t length) override;
  // Shrinking only changes the size: the blocks past the new end stay
  // mapped, unseen, until TrimPastEnd. Growing first trims the new range.
  Status Truncate(uint64_t new_size) override;
  // Deletes the mappings of [Size(), end) with a kTrimPastEnd batch.
  Status TrimPastEnd(uint64_t end);
  Result<InspectReport> Inspect(InspectMode mode) override;
  std::string Signature() const override;
  Status Serialize(Exnode& exnode) const override;

  // Opening: replays batches after the committed head and bumps the epoch.
  // Returns the number of batches replayed.
  Result<uint64_t> Replay();
  // Pre-commit hook: stores the head in the tree.
  Status RecordHead();
  // Rows beyond the head's row; the RowKeeper keeps this >= 1.
  uint64_t SpareRows() const;
  // The data-segment offset where the next batch goes: nothing at or past
  // it holds live data (a failed batch may have left chunks there).
  uint64_t HeadOffset() const;

  // Space reclamation (used by the volume's cleaner).
  // Live blocks per row start, from the row counters.
  Result<std::map<uint64_t, int64_t>> RowLiveBlocks();
  // Rows ending at or before this offset lie wholly before the head recorded
  // by the last commit: replay never reads them, so they may be freed.
  uint64_t ReclaimableBefore() const;
  // Re-appends every block of the row starting at `row_start` that is still
  // live, so that the row holds no live data afterwards. NoSpace when the
  // data segment needs another row first (grow, then call again).
  Status RelocateRow(uint64_t row_start);
  // Live blocks that RelocateRow can surely move without a new row: the
  // rest of the data segment past the head, less a header and a stripe's
  // padding for each batch a row's relocation may write.
  uint64_t RelocationRoom() const;
  // Forgets a freed row's counter.
  Status ForgetRow(uint64_t row_start);
  // Moves the head to `row_start`, the start of a row past the head's row:
  // the rest of the head's row and the rows between get no more batches
  // (a volume move leaves them behind to be relocated and freed). The next
  // batch goes there, and replay finds it (log_replay.cc note 2). When the
  // head is in that row or past it already (writers got there first),
  // nothing changes. InvalidArgument when `row_start` starts no row.
  Status SkipToRow(uint64_t row_start);
  LogStats stats() const;
  DataSegment& data() { return *data_; }

  // Clones (contract 5, log_base.cc). SetBase is called before any I/O; the
  // name is recorded as the log section's `base` key in the exNode
  // ("VOLUME@SNAPSHOT"), so the clone reopens with the same base.
  void SetBase(std::shared_ptr<Segment> base, std::string name);
  std::shared_ptr<Segment> base() const;
  std::string base_name() const;
  // Copies into the log every block of [first_lba, first_lba + count) that
  // still reads from the base and has data there (never-written blocks
  // over base data), under mu_ batch by batch, so a block written or
  // trimmed meanwhile is never overwritten with the origin's data. Returns
  // the number of blocks copied.
  Result<uint64_t> AdoptBase(uint64_t first_lba, uint64_t count);
  // Blocks of [0, Size()) that still read from the base's data.
  Result<uint64_t> BlocksReadFromBase();
  // Forgets the base: never-written blocks read as zeros from now on. The
  // caller adopts every block first (BlocksReadFromBase() == 0).
  void DetachBase();

  // Automatic tiering: client reads of data rows and appended batches count
  // in `heat` (row_heat.h) from now on; relocation and replay do not. Set
  // before any I/O, like SetBase.
  void SetHeat(std::shared_ptr<RowHeat> heat) { heat_ = std::move(heat); }

 private:
  // Appends one batch with the log drained (LockDrained held): place, write
  // and apply at once; a data batch that does not fit in the rest of the
  // row is cut there, as Append cuts it. NoSpace when the data segment has
  // no room (caller asks the RowKeeper for a row and retries; the parts
  // appended before stay appended).
  Status AppendLocked(LogHeader header, std::span<const BlockWrite> blocks);
  // Appends batches the pipelined way (design note 1 of log_segment.cc),
  // asking the RowKeeper for a row when the data segment is full, and for a
  // spare row afterwards.
  Status Append(const LogHeader& header, std::span<const BlockWrite> blocks);
  // Place step: the header gets position, sequence number, epoch and volume
  // id from reserve_, which moves past the batch; one more batch in flight.
  Result<LogHeader> PlaceBatchLocked(LogHeader header);
  // Write step (no lock): header + data blocks of a placed batch.
  Status WriteBatch(const LogHeader& header, std::span<const BlockWrite> blocks);
  // Apply step, called when head_.seq is the batch's or the log is broken:
  // applies a written batch and advances head_, or fails it (and marks the
  // log broken). One fewer batch in flight either way.
  Status ApplyInTurnLocked(const LogHeader& header, Status written);
  // mu_, taken once no batch is in flight; new batches wait meanwhile.
  std::unique_lock<std::mutex> LockDrained() const;
  Status AppendData(std::span<const BlockWrite> writes);
  Status AppendTrim(uint64_t first_lba, uint64_t count);
  Status KeepRows();
  // Position for a batch of `bytes` at or after reserve_ (skips to the next row
  // when it would straddle); NoSpace when none.
  Result<uint64_t> PlaceLocked(uint64_t bytes) const;
  // Whether a batch of `bytes` placed now would reach into the trims'
  // reserve at the end of the last row (design note 5).
  bool EntersTrimReserveLocked(uint64_t bytes) const;
  // How many of a data batch's `entries` blocks to append now: all of them
  // when they fit in the rest of reserve_'s row, else as many as fill that
  // row (design note 2 of log_segment.cc).
  size_t FitLocked(size_t entries) const;
  Status ReadBlocks(uint64_t first_lba, uint64_t count, std::span<std::byte> out);
  Status ReadBlocksOnce(uint64_t first_lba, uint64_t count, std::span<std::byte> out);
  // The tree side of a batch written at `pos` (also used by Replay): new
  // mappings or range-deletes, with the row counters kept exact.
  Status ApplyBatchLocked(const LogHeader& header, uint64_t pos);
  uint64_t RowStart(uint64_t data_offset) const { return data_offset - data_offset % data_->row_bytes(); }
  // Bytes a batch occupies in the data segment: its span rounded up to the
  // data segment's stripe (whole stripes for an erasure-coded one).
  uint64_t Footprint(const LogHeader& header) const;
  Status ReadUnaligned(uint64_t offset, std::span<std::byte> out);
  // The LBA runs [first, end) inside [first_lba, first_lba + count) where
  // `base` holds data (not holes).
  static Result<std::vector<std::pair<uint64_t, uint64_t>>> BaseDataRuns(Segment& base, uint64_t first_lba,
                                                                         uint64_t count);

  const uint64_t id_;
  const uint64_t volume_id_;
  Tree* tree_;
  std::shared_ptr<DataSegment> data_;
  RowKeeper keeper_;
  std::shared_ptr<RowHeat> heat_;  // null unless the pool tiers automatically

  mutable std::mutex base_mu_;      // guards base_ and base_name_ (reads take no mu_)
  std::shared_ptr<Segment> base_;   // GUARDED_BY(base_mu_)
  std::string base_name_;           // GUARDED_BY(base_mu_)

  mutable std::mutex mu_;  // serializes placing and applying batches, and head changes
  mutable std::condition_variable turn_;  // head_, in_flight_, broken_ or drain_waiters_ changed
  uint64_t size_;          // GUARDED_BY(mu_) for writes
  LogHead head_;           // GUARDED_BY(mu_): the end of the applied batches
  LogHead reserve_;        // GUARDED_BY(mu_): where the next batch is placed (>= head_)
  uint64_t in_flight_ = 0;                 // GUARDED_BY(mu_): placed, not yet applied or failed
  mutable uint64_t drain_waiters_ = 0;     // GUARDED_BY(mu_): LockDrained callers waiting
  bool broken_ = false;    // GUARDED_BY(mu_): a batch failed while others were in flight
  LogStats stats_;         // GUARDED_BY(mu_)
  uint64_t recorded_head_ = 0;            // GUARDED_BY(mu_): head at the last RecordHead
  std::atomic<uint64_t> relocations_{0};  // bumped whenever live data moves
};

}  // namespace tessera
