// Strong unit types. A block number, a block count and a byte offset are
// different types; converting between them goes through the helpers here,
// which check alignment and overflow in one place (see align.h).
#pragma once

#include <compare>
#include <cstdint>

namespace tessera {

// Every device address is in units of 4 KiB blocks.
inline constexpr uint64_t kBlockSize = 4096;
inline constexpr uint32_t kBlockShift = 12;

// The index of a 4 KiB block on one device.
struct BlockNo {
  uint64_t value = 0;
  constexpr auto operator<=>(const BlockNo&) const = default;
  constexpr BlockNo operator+(uint64_t n) const { return {value + n}; }
};

// A number of 4 KiB blocks.
struct BlockCount {
  uint64_t value = 0;
  constexpr auto operator<=>(const BlockCount&) const = default;
  constexpr uint64_t bytes() const { return value << kBlockShift; }
};

// A byte position.
struct ByteOffset {
  uint64_t value = 0;
  constexpr auto operator<=>(const ByteOffset&) const = default;
};

constexpr ByteOffset ToBytes(BlockNo b) { return {b.value << kBlockShift}; }

}  // namespace tessera
