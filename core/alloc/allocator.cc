// Allocator: placement across tiers and vdevs, delayed frees, persistence.
//
// Design notes
//  1. Segment i of a vdev covers blocks [i * kSegmentBlocks, (i+1) *
//     kSegmentBlocks); the last segment may be shorter.
//  2. Reserved blocks (label, superblock slots, end label) are allocated in
//     the constructor and never freed, so no code path can hand them out.
//  3. A run never crosses a segment boundary.
#include "core/alloc/allocator.h"

#include <algorithm>

namespace tessera {

Allocator::Allocator(const Pool& pool) {
  for (const auto& v : pool.vdevs()) vdevs_.push_back(SegmentsOf(v));
}

Allocator::VdevSegments Allocator::SegmentsOf(const PoolVdev& v) {
  VdevSegments vs{.tier = v.config.tier, .index = v.config.index, .slot = &v, .segments = {}};
  uint64_t size = v.label.size_blocks;
  for (uint64_t start = 0; start < size; start += kSegmentBlocks) {
    uint64_t blocks = std::min(kSegmentBlocks, size - start);
    uint64_t head = start == 0 ? v.first : 0;
    uint64_t usable_end = v.end > start ? std::min(blocks, v.end - start) : 0;
    vs.segments.emplace_back(blocks, head, usable_end);
  }
  return vs;
}

Status Allocator::AddVdev(const PoolVdev& vdev) {
  std::lock_guard lock(mu_);
  for (const auto& v : vdevs_) {
    if (v.tier == vdev.config.tier && v.index == vdev.config.index) {
      return Err(Code::kInvalidArgument, "the allocator already has vdev {}:{}", TierName(v.tier), v.index);
    }
  }
  vdevs_.push_back(SegmentsOf(vdev));
  return Ok();
}

Status Allocator::GrowVdev(const PoolVdev& vdev, uint64_t old_blocks) {
  std::lock_guard lock(mu_);
  for (auto& v : vdevs_) {
    if (v.tier != vdev.config.tier || v.index != vdev.config.index) continue;
    const uint64_t size = vdev.label.size_blocks;
    if (size < old_blocks || v.segments.empty()) {
      return Err(Code::kInvalidArgument, "vdev {}:{} cannot shrink", TierName(v.tier), v.index);
    }
    const uint64_t last = v.segments.size() - 1;
    const uint64_t start = last * kSegmentBlocks;
    v.segments[last].Grow(std::min(kSegmentBlocks, size - start), old_blocks - 1 - start,
                          std::min(kSegmentBlocks, vdev.end - start));
    for (uint64_t at = start + kSegmentBlocks; at < size; at += kSegmentBlocks) {
      uint64_t blocks = std::min(kSegmentBlocks, size - at);
      v.segments.emplace_back(blocks, 0, vdev.end > at ? std::min(blocks, vdev.end - at) : 0);
    }
    return Ok();
  }
  return Err(Code::kInvalidArgument, "no vdev {}:{}", TierName(vdev.config.tier), vdev.config.index);
}

void Allocator::SettleGrownVdevs() {
  std::lock_guard lock(mu_);
  for (auto& v : vdevs_) {
    // The last segment a bitmap was stored for, and how far it went.
    size_t highest = v.segments.size();
    for (size_t s = 0; s < v.segments.size(); s++) {
      if (v.segments[s].stored_blocks() > 0) highest = s;
    }
    if (highest == v.segments.size()) continue;  // nothing stored yet (a vdev just added)
    SegmentBitmap& seg = v.segments[highest];
    if (highest + 1 == v.segments.size() && seg.stored_blocks() == seg.blocks()) continue;
    // Stored before a grow: their last block was the old end label.
    seg.Unreserve(seg.stored_blocks() - 1);
  }
}

Result<SegmentBitmap*> Allocator::Locate(DiskAddress address, uint64_t count) {
  for (auto& v : vdevs_) {
    if (v.tier != address.tier() || v.index != address.vdev()) continue;
    uint64_t seg = address.block() / kSegmentBlocks;
    uint64_t offset = address.block() % kSegmentBlocks;
    if (seg >= v.segments.size() || offset + count > v.segments[seg].blocks() || count == 0) {
      return Err(Code::kInvalidArgument, "blocks {} +{} are outside any segment",
                 address.ToString(), count);
    }
    return &v.segments[seg];
  }
  return Err(Code::kInvalidArgument, "address {} names no vdev", address.ToString());
}

std::optional<DiskAddress> Allocator::AllocateInTierLocked(
    uint64_t count, Tier tier, size_t* cursor,
    const std::function<bool(const VdevSegments&)>& eligible) {
  std::vector<VdevSegments*> in_tier;
  for (auto& v : vdevs_) {
    if (v.tier == tier && v.slot->device->takes_new_blocks() && eligible(v)) in_tier.push_back(&v);
  }
  if (in_tier.empty()) return std::nullopt;
  size_t& rr = *cursor;
  for (size_t attempt = 0; attempt < in_tier.size(); attempt++) {
    VdevSegments* v = in_tier[(rr + attempt) % in_tier.size()];
    for (size_t s = 0; s < v->segments.size(); s++) {
      size_t seg = (v->next_segment + s) % v->segments.size();
      auto found = v->segments[seg].FindFree(count);
      if (!found) continue;
      v->segments[seg].MarkAllocated(*found, count);
      v->next_segment = seg;
      rr = (rr + attempt + 1) % in_tier.size();
      return DiskAddress::Make(tier, v->index, seg * kSegmentBlocks + *found);
    }
  }
  return std::nullopt;
}

Result<DiskAddress> Allocator::Allocate(BlockCount count, std::span<const Tier> preference) {
  std::lock_guard lock(mu_);
  for (Tier tier : preference) {
    auto found = AllocateInTierLocked(count.value, tier, &next_vdev_in_tier_[static_cast<uint8_t>(tier)],
                                      [](const VdevSegments&) { return true; });
    if (found) return *found;
  }
  return Err(Code::kNoSpace, "no run of {} free blocks in the preferred tiers", count.value);
}

Result<DiskAddress> Allocator::AllocateApart(BlockCount count, std::span<const Tier> preference,
                                             DiskAddress apart_from) {
  const DiskAddress one[] = {apart_from};
  return AllocateApart(count, preference, std::span<const DiskAddress>(one));
}

Result<DiskAddress> Allocator::AllocateApart(BlockCount count, std::span<const Tier> preference,
                                             std::span<const DiskAddress> apart_from) {
  if (apart_from.empty()) return Allocate(count, preference);
  std::lock_guard lock(mu_);
  auto other = [&](const VdevSegments& v) {
    for (DiskAddress a : apart_from) {
      if (v.tier == a.tier() && v.index == a.vdev()) return false;
    }
    return true;
  };
  auto cursor = [&](Tier tier) { return &next_copy_in_tier_[static_cast<uint8_t>(tier)]; };
  Tier own = apart_from.front().tier();
  if (auto found = AllocateInTierLocked(count.value, own, cursor(own), other)) return *found;
  for (Tier tier : preference) {
    if (tier == own) continue;
    if (auto found = AllocateInTierLocked(count.value, tier, cursor(tier), other)) return *found;
  }
  return Err(Code::kNoSpace, "no run of {} free blocks on a vdev other than those of {} other copies", count.value,
             apart_from.size());
}

uint64_t MetadataReserveBlocks(uint64_t vdev_blocks) {
  return std::clamp<uint64_t>(vdev_blocks / 64, 256, kSegmentBlocks / 4);
}

Result<DiskAddress> Allocator::AllocateOn(Tier tier, uint32_t index, BlockCount count) {
  std::lock_guard lock(mu_);
  for (auto& v : vdevs_) {
    if (v.tier != tier || v.index != index) continue;
    // Contract 7: data leaves the metadata reserve free.
    uint64_t total = 0, used = 0;
    for (const auto& seg : v.segments) {
      total += seg.blocks();
      used += seg.allocated_count() + seg.quarantined_count();
    }
    if (used + count.value + MetadataReserveBlocks(total) > total) {
      return Err(Code::kNoSpace, "vdev {}:{} is full ({} of {} blocks free, {} of them kept for metadata)",
                 TierName(tier), index, total - std::min(used, total), total, MetadataReserveBlocks(total));
    }
    for (size_t s = 0; s < v.segments.size(); s++) {
      size_t seg = (v.next_segment + s) % v.segments.size();
      auto found = v.segments[seg].FindFree(count.value);
      if (!found) continue;
      v.segments[seg].MarkAllocated(*found, count.value);
      return DiskAddress::Make(tier, index, seg * kSegmentBlocks + *found);
    }
    return Err(Code::kNoSpace, "vdev {}:{} has no run of {} free blocks", TierName(tier), index,
               count.value);
  }
  return Err(Code::kInvalidArgument, "no vdev {}:{}", TierName(tier), index);
}

Status Allocator::MarkAllocated(DiskAddress address, BlockCount count) {
  std::lock_guard lock(mu_);
  SegmentBitmap* seg = TRY(Locate(address, count.value));
  uint64_t offset = address.block() % kSegmentBlocks;
  if (!seg->RangeFree(offset, count.value)) {
    return Err(Code::kCorruption, "blocks {} +{} are already allocated", address.ToString(),
               count.value);
  }
  seg->MarkAllocated(offset, count.value);
  return Ok();
}

Status Allocator::Free(DiskAddress address, BlockCount count) {
  std::lock_guard lock(mu_);
  SegmentBitmap* seg = TRY(Locate(address, count.value));
  uint64_t offset = address.block() % kSegmentBlocks;
  if (!seg->RangeAllocated(offset, count.value)) {
    return Err(Code::kCorruption, "double free of blocks {} +{}", address.ToString(), count.value);
  }
  seg->Free(offset, count.value);
  return Ok();
}

void Allocator::ReleaseQuarantine() {
  std::lock_guard lock(mu_);
  for (auto& v : vdevs_) {
    for (auto& s : v.segments) s.ReleaseQuarantine();
  }
  for (const auto& [hold, runs] : held_) {  // contract 11
    for (const auto& [address, count] : runs) {
      if (auto seg = Locate(address, count)) (*seg)->Quarantine(address.block() % kSegmentBlocks, count);
    }
  }
}

Status Allocator::FreeHeld(DiskAddress address, BlockCount count, uint64_t hold) {
  TRY_STATUS(Free(address, count));
  std::lock_guard lock(mu_);
  held_[hold].emplace_back(address, count.value);
  return Ok();
}

void Allocator::Unhold(uint64_t hold) {
  std::lock_guard lock(mu_);
  held_.erase(hold);
}

uint64_t Allocator::HeldBlocks() const {
  std::lock_guard lock(mu_);
  uint64_t blocks = 0;
  for (const auto& [hold, runs] : held_) {
    for (const auto& run : runs) blocks += run.second;
  }
  return blocks;
}

uint64_t Allocator::HeldBlocksOn(Tier tier, uint32_t vdev) const {
  std::lock_guard lock(mu_);
  uint64_t blocks = 0;
  for (const auto& [hold, runs] : held_) {
    for (const auto& [at, count] : runs) {
      if (at.tier() == tier && at.vdev() == vdev) blocks += count;
    }
  }
  return blocks;
}

bool Allocator::IsAllocated(DiskAddress address, BlockCount count) const {
  std::lock_guard lock(mu_);
  auto* self = const_cast<Allocator*>(this);
  auto seg = self->Locate(address, count.value);
  return seg && (*seg)->RangeAllocated(address.block() % kSegmentBlocks, count.value);
}

std::vector<SegmentKey> Allocator::DirtySegments() const {
  std::lock_guard lock(mu_);
  std::vector<SegmentKey> out;
  for (const auto& v : vdevs_) {
    for (size_t s = 0; s < v.segments.size(); s++) {
      if (v.segments[s].dirty()) {
        out.push_back(SegmentKey::Of(DiskAddress::Make(v.tier, v.index, s * kSegmentBlocks)));
      }
    }
  }
  return out;
}

std::vector<SegmentKey> Allocator::AllSegments() const {
  std::lock_guard lock(mu_);
  std::vector<SegmentKey> out;
  for (const auto& v : vdevs_) {
    for (size_t s = 0; s < v.segments.size(); s++) {
      out.push_back(SegmentKey::Of(DiskAddress::Make(v.tier, v.index, s * kSegmentBlocks)));
    }
  }
  return out;
}

Result<std::string> Allocator::EncodeSegment(
    SegmentKey key, const std::vector<std::pair<DiskAddress, uint64_t>>& exclude) {
  std::lock_guard lock(mu_);
  DiskAddress first = key.First();
  SegmentBitmap* seg = TRY(Locate(first, 1));
  std::vector<std::pair<uint64_t, uint64_t>> local;
  for (auto [address, count] : exclude) {
    if (SegmentKey::Of(address) == key) {
      local.emplace_back(address.block() - first.block(), count);
    }
  }
  seg->set_dirty(false);
  return seg->Encode(local);
}

Status Allocator::LoadSegment(SegmentKey key, std::string_view bytes) {
  std::lock_guard lock(mu_);
  SegmentBitmap* seg = TRY(Locate(key.First(), 1));
  return seg->Decode(bytes);
}

SpaceUsage Allocator::Sum(const std::function<bool(const VdevSegments&)>& include) const {
  std::lock_guard lock(mu_);
  SpaceUsage usage;
  for (const auto& v : vdevs_) {
    if (!include(v)) continue;
    for (const auto& s : v.segments) {
      usage.total_blocks += s.blocks();
      usage.allocated_blocks += s.allocated_count();
      usage.quarantined_blocks += s.quarantined_count();
    }
  }
  return usage;
}

SpaceUsage Allocator::Usage() const {
  return Sum([](const VdevSegments& v) { return !v.slot->removed(); });  // contract 10
}

SpaceUsage Allocator::UsageOfTier(Tier tier) const {
  return Sum([tier](const VdevSegments& v) { return v.tier == tier && !v.slot->removed(); });
}

SpaceUsage Allocator::UsageOfVdev(Tier tier, uint32_t index) const {
  return Sum([=](const VdevSegments& v) { return v.tier == tier && v.index == index; });
}

void Allocator::ForEachAllocatedRun(const std::function<void(DiskAddress, uint64_t)>& fn) const {
  std::lock_guard lock(mu_);
  for (const auto& v : vdevs_) {
    for (size_t s = 0; s < v.segments.size(); s++) {
      v.segments[s].ForEachAllocatedRun([&](uint64_t start, uint64_t count) {
        fn(DiskAddress::Make(v.tier, v.index, s * kSegmentBlocks + start), count);
      });
    }
  }
}

}  // namespace tessera
