// MemorySegment design notes
//
// State: bytes_ (the contents) and mapped_ (one bit per block: holds data).
//
// Invariants
//  1. bytes_.size() == size_ and mapped_.size() == ceil(size_ / block_size_).
//  2. A block whose mapped_ bit is clear reads as zeros (Trim zero-fills
//     before clearing; Truncate drops the bytes past the new end and growth
//     appends zeros and clear bits, so shrinking then growing again never
//     exposes old bytes).
//  3. Every range check happens with mu_ held, so a concurrent Truncate can
//     never turn a checked range into an out-of-bounds copy.
//  4. Nothing is changed before every check of an operation has passed.
#include "core/segment/memory_segment.h"

#include <algorithm>
#include <cstring>

#include <fmt/core.h>

#include "core/util/align.h"

namespace tessera {
namespace {

uint64_t BlocksFor(uint64_t bytes, uint32_t block_size) {
  return bytes / block_size + (bytes % block_size != 0 ? 1 : 0);
}

}  // namespace

MemorySegment::MemorySegment(uint64_t id, uint64_t size, uint32_t block_size)
    : id_(id),
      block_size_(block_size == 0 ? 4096 : block_size),
      size_(size),
      bytes_(size),
      mapped_(BlocksFor(size, block_size_), false) {}

Status MemorySegment::Read(uint64_t offset, std::span<std::byte> out) {
  std::shared_lock lock(mu_);
  TRY_STATUS(CheckRange(offset, out.size()));
  if (!out.empty()) std::memcpy(out.data(), bytes_.data() + offset, out.size());
  return Ok();
}

void MemorySegment::ApplyWriteLocked(uint64_t offset, std::span<const std::byte> data) {
  if (data.empty()) return;
  std::memcpy(bytes_.data() + offset, data.data(), data.size());
  uint64_t first = offset / block_size_;
  uint64_t last = (offset + data.size() - 1) / block_size_;
  for (uint64_t b = first; b <= last; ++b) mapped_[b] = true;
}

Status MemorySegment::Write(uint64_t offset, std::span<const std::byte> data, uint32_t) {
  std::unique_lock lock(mu_);
  TRY_STATUS(CheckRange(offset, data.size()));
  ApplyWriteLocked(offset, data);
  return Ok();
}

Status MemorySegment::WriteBlocks(std::span<const BlockWrite> writes) {
  std::unique_lock lock(mu_);
  for (const BlockWrite& w : writes) {
    TRY_STATUS(CheckRange(w.offset, w.data.size()));
    if (!IsAligned(w.offset, block_size_) || !IsAligned(w.data.size(), block_size_)) {
      return Err(Code::kInvalidArgument,
                 "WriteBlocks: write [{}, +{}) is not whole {}-byte blocks", w.offset,
                 w.data.size(), block_size_);
    }
  }
  for (const BlockWrite& w : writes) ApplyWriteLocked(w.offset, w.data);
  return Ok();
}

Status MemorySegment::Flush() {
  std::unique_lock lock(mu_);
  ++flushes_;
  return Ok();
}

uint64_t MemorySegment::flush_count() const {
  std::shared_lock lock(mu_);
  return flushes_;
}

Status MemorySegment::Trim(uint64_t offset, uint64_t length) {
  std::unique_lock lock(mu_);
  TRY_STATUS(CheckRange(offset, length));
  if (length == 0) return Ok();
  std::memset(bytes_.data() + offset, 0, length);
  uint64_t end = offset + length;
  uint64_t size = size_.load(std::memory_order_relaxed);
  for (uint64_t b = *AlignUp(offset, block_size_) / block_size_; b < mapped_.size(); ++b) {
    uint64_t block_end = std::min<uint64_t>((b + 1) * block_size_, size);
    if (block_end > end) break;
    mapped_[b] = false;
  }
  return Ok();
}

Result<std::vector<SegmentExtent>> MemorySegment::Extents(uint64_t offset, uint64_t length) {
  std::shared_lock lock(mu_);
  TRY_STATUS(CheckRange(offset, length));
  std::vector<SegmentExtent> out;
  uint64_t end = offset + length;
  uint64_t at = offset;
  while (at < end) {
    uint64_t block = at / block_size_;
    bool hole = !mapped_[block];
    uint64_t next = std::min<uint64_t>((block + 1) * block_size_, end);
    if (!out.empty() && out.back().hole == hole) {
      out.back().length += next - at;
    } else {
      out.push_back({.offset = at, .length = next - at, .hole = hole});
    }
    at = next;
  }
  return out;
}

Status MemorySegment::Truncate(uint64_t new_size) {
  std::unique_lock lock(mu_);
  bytes_.resize(new_size);  // New bytes are value-initialized: zeros.
  mapped_.resize(BlocksFor(new_size, block_size_), false);
  size_.store(new_size, std::memory_order_release);
  return Ok();
}

Result<InspectReport> MemorySegment::Inspect(InspectMode) {
  std::shared_lock lock(mu_);
  InspectReport report;
  report.checked = mapped_.size();
  return report;
}

std::string MemorySegment::Signature() const {
  return fmt::format("memory(size={},block={})", Size(), block_size_);
}

Status MemorySegment::Serialize(Exnode&) const {
  return Err(Code::kInvalidArgument, "memory segments have no exNode form (segment {})", id_);
}

}  // namespace tessera
