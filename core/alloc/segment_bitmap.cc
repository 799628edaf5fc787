#include "core/alloc/segment_bitmap.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "core/util/endian.h"

namespace tessera {

SegmentBitmap::SegmentBitmap(uint64_t blocks, uint64_t reserved_head, uint64_t usable_end)
    : blocks_(blocks), allocated_((blocks + 63) / 64, 0), quarantined_((blocks + 63) / 64, 0) {
  if (reserved_head > 0) MarkAllocated(0, std::min(reserved_head, blocks));
  if (usable_end < blocks) MarkAllocated(usable_end, blocks - usable_end);
}

bool SegmentBitmap::IsAllocated(uint64_t block) const { return Get(allocated_, block); }

bool SegmentBitmap::RangeFree(uint64_t start, uint64_t count) const {
  if (start + count > blocks_) return false;
  for (uint64_t b = start; b < start + count; b++) {
    if (Get(allocated_, b) || Get(quarantined_, b)) return false;
  }
  return true;
}

bool SegmentBitmap::RangeAllocated(uint64_t start, uint64_t count) const {
  if (start + count > blocks_) return false;
  for (uint64_t b = start; b < start + count; b++) {
    if (!Get(allocated_, b)) return false;
  }
  return true;
}

std::optional<uint64_t> SegmentBitmap::FindFree(uint64_t count) {
  if (count == 0 || count > blocks_ || allocated_count_ + quarantined_count_ + count > blocks_) {
    return std::nullopt;
  }
  // Two passes: from the cursor to the end, then from 0.
  for (int pass = 0; pass < 2; pass++) {
    uint64_t b = pass == 0 ? cursor_ : 0;
    uint64_t limit = pass == 0 ? blocks_ : std::min(blocks_, cursor_ + count);
    uint64_t run = 0;
    while (b < limit) {
      uint64_t word = (allocated_[b >> 6] | quarantined_[b >> 6]);
      if ((b & 63) == 0 && word == ~uint64_t{0}) {  // a full word: skip it
        run = 0;
        b += 64;
        continue;
      }
      if ((b & 63) == 0 && word == 0 && run + 64 <= count) {  // an empty word
        run += 64;
        b += 64;
        if (run == count) {
          cursor_ = b;
          return b - run;
        }
        continue;
      }
      if (word >> (b & 63) & 1) {
        run = 0;
      } else if (++run == count) {
        cursor_ = b + 1;
        return b + 1 - run;
      }
      b++;
    }
  }
  return std::nullopt;
}

void SegmentBitmap::MarkAllocated(uint64_t start, uint64_t count) {
  for (uint64_t b = start; b < start + count; b++) {
    if (!Get(allocated_, b)) allocated_count_++;
    allocated_[b >> 6] |= uint64_t{1} << (b & 63);
  }
  dirty_ = true;
}

void SegmentBitmap::Free(uint64_t start, uint64_t count) {
  for (uint64_t b = start; b < start + count; b++) {
    if (Get(allocated_, b)) allocated_count_--;
    if (!Get(quarantined_, b)) quarantined_count_++;
    allocated_[b >> 6] &= ~(uint64_t{1} << (b & 63));
    quarantined_[b >> 6] |= uint64_t{1} << (b & 63);
  }
  dirty_ = true;
}

void SegmentBitmap::ReleaseQuarantine() {
  cursor_ = 0;  // reuse the lowest free blocks first in the next txg
  if (quarantined_count_ == 0) return;
  std::fill(quarantined_.begin(), quarantined_.end(), 0);
  quarantined_count_ = 0;
}

void SegmentBitmap::Quarantine(uint64_t start, uint64_t count) {
  for (uint64_t b = start; b < start + count && b < blocks_; b++) {
    if (Get(allocated_, b) || Get(quarantined_, b)) continue;
    quarantined_count_++;
    quarantined_[b >> 6] |= uint64_t{1} << (b & 63);
  }
}

std::string SegmentBitmap::Encode(const std::vector<std::pair<uint64_t, uint64_t>>& exclude) const {
  std::vector<uint64_t> bits = allocated_;
  for (auto [start, count] : exclude) {
    for (uint64_t b = start; b < start + count && b < blocks_; b++) {
      bits[b >> 6] &= ~(uint64_t{1} << (b & 63));
    }
  }
  std::string out(8 + bits.size() * 8, '\0');
  PutU64(reinterpret_cast<std::byte*>(out.data()), blocks_);
  std::memcpy(out.data() + 8, bits.data(), bits.size() * 8);
  return out;
}

Status SegmentBitmap::Decode(std::string_view bytes) {
  if (bytes.size() < 8) return Err(Code::kCorruption, "segment bitmap of {} bytes", bytes.size());
  uint64_t blocks = GetU64(reinterpret_cast<const std::byte*>(bytes.data()));
  if (blocks == 0 || blocks > blocks_) {
    return Err(Code::kCorruption, "segment bitmap covers {} blocks, expected {}", blocks, blocks_);
  }
  const size_t words = (blocks + 63) / 64;
  if (bytes.size() != 8 + words * 8) {
    return Err(Code::kCorruption, "segment bitmap of {} bytes, expected {}", bytes.size(), 8 + words * 8);
  }
  // Loading ORs into the reserved bits already set by the constructor.
  std::vector<uint64_t> loaded(words);
  std::memcpy(loaded.data(), bytes.data() + 8, loaded.size() * 8);
  if (blocks % 64 != 0) loaded.back() &= (uint64_t{1} << (blocks % 64)) - 1;
  allocated_count_ = 0;
  for (size_t i = 0; i < allocated_.size(); i++) {
    if (i < words) allocated_[i] |= loaded[i];
    allocated_count_ += std::popcount(allocated_[i]);
  }
  stored_blocks_ = blocks;
  dirty_ = blocks != blocks_;
  return Ok();
}

void SegmentBitmap::Grow(uint64_t blocks, uint64_t old_usable_end, uint64_t usable_end) {
  for (uint64_t b = old_usable_end; b < blocks_; b++) Unreserve(b);
  blocks_ = std::max(blocks_, blocks);
  allocated_.resize((blocks_ + 63) / 64, 0);
  quarantined_.resize((blocks_ + 63) / 64, 0);
  if (usable_end < blocks_) MarkAllocated(usable_end, blocks_ - usable_end);
  dirty_ = true;
}

void SegmentBitmap::Unreserve(uint64_t block) {
  if (block >= blocks_ || !Get(allocated_, block)) return;
  allocated_[block >> 6] &= ~(uint64_t{1} << (block & 63));
  allocated_count_--;
  dirty_ = true;
}

}  // namespace tessera
