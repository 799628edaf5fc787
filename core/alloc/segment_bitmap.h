// The allocation bitmap of one 1 GiB segment (262,144 blocks) of one vdev.
//
// Two bits per block, kept as two bitmaps:
//   allocated   - the block is in use in the current (uncommitted) state;
//                 this is what is persisted.
//   quarantined - the block was freed in the current txg; it must not be
//                 reused until that txg's superblock is durable.
// A block can be handed out only when both bits are clear.
// Not thread-safe: the Allocator serializes access.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/status.h"

namespace tessera {

inline constexpr uint64_t kSegmentBlocks = uint64_t{1} << 18;  // 1 GiB of 4 KiB blocks

class SegmentBitmap {
 public:
  // `blocks` <= kSegmentBlocks; blocks [0, reserved_head) and those past
  // `usable_end` are permanently allocated (labels, superblocks).
  SegmentBitmap(uint64_t blocks, uint64_t reserved_head, uint64_t usable_end);

  uint64_t blocks() const { return blocks_; }
  uint64_t allocated_count() const { return allocated_count_; }
  uint64_t quarantined_count() const { return quarantined_count_; }
  bool dirty() const { return dirty_; }
  void set_dirty(bool dirty) { dirty_ = dirty; }

  bool IsAllocated(uint64_t block) const;
  bool RangeFree(uint64_t start, uint64_t count) const;      // neither bit set
  bool RangeAllocated(uint64_t start, uint64_t count) const;  // allocated bit set on all
  // First run of `count` free blocks at or after the cursor (wrapping).
  std::optional<uint64_t> FindFree(uint64_t count);
  void MarkAllocated(uint64_t start, uint64_t count);
  // Clears `allocated` and sets `quarantined`.
  void Free(uint64_t start, uint64_t count);
  // Clears every quarantine bit and moves the cursor back to the start, so
  // that space freed in earlier txgs is reused first.
  void ReleaseQuarantine();
  // Sets the quarantine bit of free blocks (held past a release).
  void Quarantine(uint64_t start, uint64_t count);

  // Persisted form: u64 LE block count, then the allocated bitmap. Blocks in
  // `exclude` ranges (start,count) are written as free.
  std::string Encode(const std::vector<std::pair<uint64_t, uint64_t>>& exclude) const;
  // A stored bitmap of fewer blocks than this segment (its vdev grew since,
  // vdev grow) loads into its first blocks and leaves the segment dirty.
  Status Decode(std::string_view bytes);
  // The block count of the bitmap Decode loaded; 0 when none was.
  uint64_t stored_blocks() const { return stored_blocks_; }

  // vdev grow: the segment now has `blocks` (at least as many as before);
  // the blocks from `old_usable_end` to the old end (the old end label)
  // become free, those from `usable_end` on are reserved.
  void Grow(uint64_t blocks, uint64_t old_usable_end, uint64_t usable_end);
  // Clears the allocated bit of `block` without quarantine: for a reserved
  // block that nothing ever referenced (an old end label).
  void Unreserve(uint64_t block);

  // Calls fn(start, count) for each maximal run of allocated blocks.
  template <typename Fn>
  void ForEachAllocatedRun(Fn&& fn) const {
    uint64_t b = 0;
    while (b < blocks_) {
      if (!IsAllocated(b)) { b++; continue; }
      uint64_t s = b;
      while (b < blocks_ && IsAllocated(b)) b++;
      fn(s, b - s);
    }
  }

 private:
  static bool Get(const std::vector<uint64_t>& bits, uint64_t i) { return bits[i >> 6] >> (i & 63) & 1; }

  uint64_t blocks_;
  std::vector<uint64_t> allocated_;
  std::vector<uint64_t> quarantined_;
  uint64_t allocated_count_ = 0;
  uint64_t quarantined_count_ = 0;
  uint64_t cursor_ = 0;
  uint64_t stored_blocks_ = 0;
  bool dirty_ = true;
};

}  // namespace tessera
