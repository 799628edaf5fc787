// BlockSpan: the one way an unaligned byte range is split into blocks: a
// partial head block, an aligned body of whole blocks, and a partial tail
// block. The file segment splits at 4 KiB device blocks and the cache
// segment at pages with this same helper.
//
// Design notes
//  1. head, body and tail are disjoint, in that order, and together cover
//     exactly [offset, offset + length).
//  2. body.offset and body.length are multiples of block_size (body may be
//     empty).
//  3. head is non-empty only when it lies in a single block that it does not
//     cover whole; likewise tail. A range inside one block that covers it
//     only partly is all head (tail empty). A range that starts and ends on
//     block boundaries has an empty head and tail.
//  4. When head and tail are both non-empty they lie in different blocks.
//  5. SplitBlockSpan fails (InvalidArgument) instead of wrapping: block_size
//     must be non-zero, and the range rounded out to whole blocks,
//     [AlignDown(offset), AlignUp(offset + length)), must be representable
//     in 64 bits, so callers may read whole edge blocks without overflow.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>

#include "core/util/status.h"

namespace tessera {

// A byte range; empty when length == 0.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;

  bool empty() const { return length == 0; }
  uint64_t end() const { return offset + length; }
  bool operator==(const ByteRange&) const = default;
};

struct BlockSpan {
  uint64_t block_size = 0;
  ByteRange range;  // the whole request
  ByteRange head;  // partial first block, or empty
  ByteRange body;  // whole blocks, or empty
  ByteRange tail;  // partial last block, or empty

  // The block that contains byte `offset`, as a byte range:
  // [AlignDown(offset), AlignDown(offset) + block_size).
  ByteRange BlockAround(uint64_t offset) const {
    return {offset - offset % block_size, block_size};
  }
  // Every block the range touches, rounded out: [AlignDown(start), AlignUp(end)).
  ByteRange Covering() const;
};

// Splits [offset, offset + length) at multiples of block_size (any non-zero
// value; it need not be a power of two). Invariants 1-5 above.
Result<BlockSpan> SplitBlockSpan(uint64_t offset, uint64_t length, uint64_t block_size);

}  // namespace tessera
