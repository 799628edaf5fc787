// SplitBlockSpan: see the design notes in block_span.h.
#include "core/segment/block_span.h"

#include "core/util/align.h"

namespace tessera {

ByteRange BlockSpan::Covering() const {
  uint64_t first = AlignDown(range.offset, block_size);
  // SplitBlockSpan checked that this cannot overflow (invariant 5).
  uint64_t last = *AlignUp(range.end(), block_size);
  return {first, last - first};
}

Result<BlockSpan> SplitBlockSpan(uint64_t offset, uint64_t length, uint64_t block_size) {
  if (block_size == 0) return Err(Code::kInvalidArgument, "block size must not be zero");
  auto end = CheckedAdd(offset, length);
  if (!end) {
    return Err(Code::kInvalidArgument, "range [{}, +{}) overflows 64 bits", offset, length);
  }
  if (!AlignUp(*end, block_size)) {
    return Err(Code::kInvalidArgument,
               "range [{}, +{}) rounded out to {}-byte blocks overflows 64 bits", offset, length,
               block_size);
  }
  BlockSpan span{.block_size = block_size, .range = {offset, length}};
  if (length == 0) {
    span.body = {offset, 0};
    return span;
  }
  uint64_t first_block = AlignDown(offset, block_size);
  uint64_t last_block = AlignDown(*end - 1, block_size);
  if (first_block == last_block) {
    // One block: whole (body) or partial (head).
    if (offset == first_block && length == block_size) {
      span.body = {offset, length};
    } else {
      span.head = {offset, length};
    }
    return span;
  }
  uint64_t body_start = offset;
  if (!IsAligned(offset, block_size)) {
    body_start = first_block + block_size;
    span.head = {offset, body_start - offset};
  }
  uint64_t body_end = *end;
  if (!IsAligned(*end, block_size)) {
    body_end = last_block;
    span.tail = {last_block, *end - last_block};
  }
  span.body = {body_start, body_end - body_start};
  return span;
}

}  // namespace tessera
