// The block allocator: one SegmentBitmap per 1 GiB segment of every vdev.
//
// Contract
//  1. Allocate hands out a contiguous run inside one segment, trying tiers in
//     the given preference order and the vdevs of a tier round-robin.
//  2. Free takes effect in the persisted state at once (the bits are clear in
//     the next Encode), but the blocks stay unallocatable until
//     ReleaseQuarantine(), which the database calls only after the txg that
//     freed them is durable.
//  3. Freeing a block that is not allocated, or marking one that already is,
//     is Corruption (a double free or a double reference) and changes nothing.
//  4. Allocate and AllocateApart (metadata) place nothing on a vdev that is
//     not online now or is draining (pool.h, slot_vdev.h); AllocateOn (data
//     rows, chosen by the volume layer, which prefers online vdevs and may
//     place a degraded row on one that is not) does. A vdev's bitmaps are loaded, persisted and freed
//     into whatever its state, so accounting stays exact, and a vdev that
//     comes back online is used again at once.
//  5. AllocateApart places a further copy on a vdev other than those of the
//     copies placed so far (ditto copies of metadata), preferring the first
//     copy's tier.
//  6. Thread-safe: one mutex guards every bitmap and counter.
//  7. Metadata reserve: AllocateOn (data extents) leaves
//     MetadataReserveBlocks of its vdev free, for Allocate and AllocateApart
//     (tree nodes), so a pool whose data filled it can still commit, and so
//     delete, trim and free space.
//  8. AddVdev (vdev add) gives a vdev the pool just gained its segments:
//     all free but the reserved label and superblock blocks, as the
//     allocator of a reopened pool finds a vdev whose bitmaps were never
//     committed. Every call after it may allocate there.
//  9. GrowVdev (vdev grow) extends a vdev the pool just grew: its last
//     segment and new ones, all free but the new end label; the old end
//     label's block becomes free. A pool that crashed after the vdev's
//     label took the new size but before the commit that stored the grown
//     bitmaps loads bitmaps shorter than the vdev (SegmentBitmap::Decode);
//     SettleGrownVdevs, run once after loading, frees the old end label
//     there too, so both states open to the same space.
// 10. A removed vdev (pool.h contract 7) keeps its bitmaps (its reserved
//     blocks only), but its space counts in no Usage nor UsageOfTier.
// 11. Held frees: FreeHeld frees as Free does (the blocks are free in the
//     next Encode), but the blocks stay unallocatable through every
//     ReleaseQuarantine until Unhold(hold); the release after that frees
//     them for reuse. For blocks a reader may still read after the txg
//     that freed them (an open snapshot tree, snapshot_recopy.cc note 5).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/alloc/segment_bitmap.h"
#include "core/pool/pool.h"

namespace tessera {

// Identifies a segment across the pool: tier, vdev index, segment number.
struct SegmentKey {
  uint64_t raw = 0;
  static SegmentKey Of(DiskAddress address) {
    return {(address.raw & ~kMaxBlock) | (address.block() / kSegmentBlocks)};
  }
  DiskAddress First() const {
    return DiskAddress{(raw & ~kMaxBlock) | ((raw & kMaxBlock) * kSegmentBlocks)};
  }
  auto operator<=>(const SegmentKey&) const = default;
};

struct SpaceUsage {
  uint64_t total_blocks = 0;
  uint64_t allocated_blocks = 0;    // includes reserved label/superblock blocks
  uint64_t quarantined_blocks = 0;  // freed, waiting for the txg to be durable
};

// The blocks of a vdev of `vdev_blocks` that data may not take: 1/64 of it,
// at least 1 MiB and at most 256 MiB.
uint64_t MetadataReserveBlocks(uint64_t vdev_blocks);

class Allocator {
 public:
  explicit Allocator(const Pool& pool);

  // Contract 8. `vdev` lives in the pool (its state is read live);
  // InvalidArgument when its tier and index are already known.
  Status AddVdev(const PoolVdev& vdev);
  // Contract 9: `vdev` (of the pool) has its new label and end already;
  // `old_blocks` is its size before.
  Status GrowVdev(const PoolVdev& vdev, uint64_t old_blocks);
  // Contract 9: after every LoadSegment of an open.
  void SettleGrownVdevs();

  Result<DiskAddress> Allocate(BlockCount count, std::span<const Tier> preference);
  // A run on a vdev other than `apart_from`'s: its tier first, then the
  // tiers of `preference` in order. NoSpace when no other vdev has such a run.
  Result<DiskAddress> AllocateApart(BlockCount count, std::span<const Tier> preference,
                                    DiskAddress apart_from);
  // The same, apart from the vdevs of every address in `apart_from` (the
  // copies placed so far; the first one's tier is tried first).
  Result<DiskAddress> AllocateApart(BlockCount count, std::span<const Tier> preference,
                                    std::span<const DiskAddress> apart_from);
  // A run on one given vdev; NoSpace when it has no such run free.
  Result<DiskAddress> AllocateOn(Tier tier, uint32_t index, BlockCount count);
  Status MarkAllocated(DiskAddress address, BlockCount count);
  Status Free(DiskAddress address, BlockCount count);
  void ReleaseQuarantine();
  // Contract 11. `hold` is any number the caller chose; Unhold of one that
  // holds nothing does nothing.
  Status FreeHeld(DiskAddress address, BlockCount count, uint64_t hold);
  void Unhold(uint64_t hold);
  // Blocks held now (contract 11), for tests and accounting.
  uint64_t HeldBlocks() const;
  // Of those, the blocks on the vdev (tier, index).
  uint64_t HeldBlocksOn(Tier tier, uint32_t vdev) const;
  bool IsAllocated(DiskAddress address, BlockCount count) const;

  // Persistence through the root tree.
  std::vector<SegmentKey> DirtySegments() const;
  std::vector<SegmentKey> AllSegments() const;
  // Encodes one segment with the blocks of `exclude` (address, count) shown
  // free, and marks it clean.
  Result<std::string> EncodeSegment(SegmentKey key,
                                    const std::vector<std::pair<DiskAddress, uint64_t>>& exclude);
  Status LoadSegment(SegmentKey key, std::string_view bytes);

  SpaceUsage Usage() const;
  SpaceUsage UsageOfTier(Tier tier) const;
  SpaceUsage UsageOfVdev(Tier tier, uint32_t index) const;
  // fn(address, count) for every allocated run, including reserved blocks.
  void ForEachAllocatedRun(const std::function<void(DiskAddress, uint64_t)>& fn) const;

 private:
  struct VdevSegments {
    Tier tier;
    uint32_t index;
    const PoolVdev* slot = nullptr;  // the pool's vdev: its state is read live
    std::vector<SegmentBitmap> segments;
    size_t next_segment = 0;  // allocation cursor
  };
  static VdevSegments SegmentsOf(const PoolVdev& vdev);
  Result<SegmentBitmap*> Locate(DiskAddress address, uint64_t count);
  // Allocates from the non-faulted vdevs of `tier` accepted by `eligible`,
  // round-robin with the cursor `rr`. Requires mu_.
  std::optional<DiskAddress> AllocateInTierLocked(uint64_t count, Tier tier, size_t* rr,
                                                  const std::function<bool(const VdevSegments&)>& eligible);
  SpaceUsage Sum(const std::function<bool(const VdevSegments&)>& include) const;

  mutable std::mutex mu_;
  std::vector<VdevSegments> vdevs_;                    // GUARDED_BY(mu_)
  // hold -> (address, blocks) freed under it (contract 11).
  std::map<uint64_t, std::vector<std::pair<DiskAddress, uint64_t>>> held_;  // GUARDED_BY(mu_)
  std::array<size_t, kTierCount> next_vdev_in_tier_{};  // GUARDED_BY(mu_)
  std::array<size_t, kTierCount> next_copy_in_tier_{};  // GUARDED_BY(mu_); AllocateApart's cursor
};

}  // namespace tessera
