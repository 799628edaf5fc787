// Alignment and overflow helpers. All range checks on requests go through
// these, so that the rules live in one place with one test.
#pragma once

#include <cstdint>
#include <optional>

#include "core/util/units.h"

namespace tessera {

constexpr bool IsAligned(uint64_t value, uint64_t alignment) {
  return alignment != 0 && value % alignment == 0;
}

constexpr uint64_t AlignDown(uint64_t value, uint64_t alignment) {
  return value - value % alignment;
}

// Rounds up; returns nullopt on overflow.
constexpr std::optional<uint64_t> AlignUp(uint64_t value, uint64_t alignment) {
  uint64_t rem = value % alignment;
  if (rem == 0) return value;
  uint64_t add = alignment - rem;
  if (value > UINT64_MAX - add) return std::nullopt;
  return value + add;
}

// a + b, or nullopt on overflow.
constexpr std::optional<uint64_t> CheckedAdd(uint64_t a, uint64_t b) {
  if (a > UINT64_MAX - b) return std::nullopt;
  return a + b;
}

// True when [offset, offset+length) lies inside [0, limit) without overflow.
constexpr bool RangeWithin(uint64_t offset, uint64_t length, uint64_t limit) {
  auto end = CheckedAdd(offset, length);
  return end.has_value() && *end <= limit;
}

// Bytes -> whole blocks, rounding up.
constexpr BlockCount BlocksForBytes(uint64_t bytes) {
  return {(bytes + kBlockSize - 1) >> kBlockShift};
}

}  // namespace tessera
