#include "core/segment/segment.h"

#include "core/util/align.h"

namespace tessera {

Status Segment::WriteBlocks(std::span<const BlockWrite> writes) {
  for (const BlockWrite& w : writes) TRY_STATUS(Write(w.offset, w.data, kWriteNone));
  return Ok();
}

Status Segment::CheckRange(uint64_t offset, uint64_t length) const {
  if (!RangeWithin(offset, length, Size())) {
    return Err(Code::kInvalidArgument, "range [{}, +{}) is outside the {}-byte {} segment", offset,
               length, Size(), SegmentTypeName(type()));
  }
  return Ok();
}

}  // namespace tessera
