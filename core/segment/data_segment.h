// DataSegment: a segment the log can append to. It is made of rows that are
// added at the end (Grow) and freed by the cleaner (RemoveRow), and it takes
// writes in units of stripe_bytes() (4 KiB for a lun, a whole stripe for
// the jerasure segment).
#pragma once

#include <functional>
#include <vector>

#include "core/pool/address.h"
#include "core/segment/segment.h"

namespace tessera {

struct LunBlock {
  uint64_t id = 0;
  DiskAddress address;
  uint64_t size = 0;  // bytes
  std::string vdev;   // vdev name
};

struct LunRowDesc {
  uint64_t seg_offset = 0;
  uint64_t seg_end = 0;
  std::vector<LunBlock> blocks;  // one per device
};

// A pass over a data segment's rows (DataSegment::InspectRows).
struct RowInspectOptions {
  bool repair = false;
  // Rows to inspect (all when empty).
  std::function<bool(const LunRowDesc&)> rows;
  // Stripes starting at or past this segment offset are skipped: the log
  // above holds nothing there (its head), so a write that failed there is
  // garbage, not lost data.
  uint64_t live_end = UINT64_MAX;
  // Called after each stripe with (stripes done, stripes in the pass).
  std::function<void(uint64_t, uint64_t)> progress;
};

// Where a data segment reports a write that one vdev missed while the
// stripe as a whole was written (a degraded write): a chunk whose write
// failed, or one that landed but that a later flush of its vdev could not
// make durable. Called with the vdev's tier and index and the seg_offset of
// the lun row (LunRowDesc::seg_offset), from the writing or flushing
// thread, maybe under the segment's stripe locks: it only records, taking
// at most a lock of its own that nothing else is held under.
using MissedWriteHook = std::function<void(Tier tier, uint32_t vdev, uint64_t lun_row)>;

class LunSegment;

class DataSegment : public Segment {
 public:
  // Row r covers [r * row_bytes(), (r + 1) * row_bytes()) when present.
  virtual uint64_t row_bytes() const = 0;
  // Writes must start and end on multiples of this (a divisor of row_bytes).
  virtual uint64_t stripe_bytes() const = 0;
  // Appends a row past the end.
  virtual Result<LunRowDesc> Grow() = 0;
  // Drops the row at `seg_offset`; its blocks are the caller's to free.
  virtual Result<LunRowDesc> RemoveRow(uint64_t seg_offset) = 0;
  // Rows in this segment's offsets, ascending.
  virtual std::vector<LunRowDesc> Rows() const = 0;
  // Log replay, before it accepts a batch that a crash may have torn:
  // checks that [offset, offset + length) (whole stripes) holds one
  // complete write per stripe, and restores the redundancy of each. IOError
  // when a stripe cannot be read whole (a torn write, or more lost than the
  // redundancy covers); nothing is promised about the range then. The
  // default has no redundancy to check: the caller's block checksums are
  // the whole check.
  virtual Status VerifyWritten(uint64_t offset, uint64_t length) {
    return CheckRange(offset, length);
  }
  // Blocks of a row that may be lost without losing data (M of rs:K+M); 0
  // without redundancy.
  virtual uint32_t parity() const { return 0; }
  // The lun holding the rows: every data segment's rows are a lun's, the
  // lun itself or the one below it (core/volume/data_segment_types.h).
  virtual LunSegment& lun() = 0;
  // Checks the rows options.rows picks and, with options.repair, rebuilds
  // what the redundancy allows. Without redundancy there is nothing to
  // rebuild: the default checks the layout (Inspect).
  virtual Result<InspectReport> InspectRows(InspectMode mode, const RowInspectOptions&) { return Inspect(mode); }
  // A segment with redundancy reports the writes a vdev missed to `hook`
  // (set before the first write), so that the vdev can catch up when it is
  // back. Without redundancy such a write fails, and there is nothing to
  // report.
  virtual void SetMissedWriteHook(MissedWriteHook) {}
};

}  // namespace tessera
