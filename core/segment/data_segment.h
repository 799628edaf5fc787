// DataSegment: a segment the log can append to. It is made of rows that are
// added at the end (Grow) and freed by the cleaner (RemoveRow), and it takes
// writes in units of stripe_bytes() (4 KiB for a lun, a whole stripe for
// the jerasure segment).
#pragma once

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
};

}  // namespace tessera
