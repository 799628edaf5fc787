// Helpers shared by the fuzz targets (fuzz/README.md).
//
// A target gets arbitrary bytes. Most on-disk structures are guarded by a
// checksum that random bytes never match, so each target decodes the bytes
// twice: once as they are (the checksum and magic checks), and once with the
// checksum recomputed over them (FrameBlock), so that mutations reach the
// field and structure checks behind the checksum.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "core/util/checksum.h"
#include "core/util/endian.h"

namespace tessera::fuzz {

// Reads an input front to back; past its end every read yields zeros.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t U8() { return static_cast<uint8_t>(Int(1)); }
  uint16_t U16() { return static_cast<uint16_t>(Int(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Int(4)); }
  uint64_t U64() { return Int(8); }
  bool Bool() { return (U8() & 1) != 0; }
  // Up to `n` bytes (fewer at the end).
  std::span<const uint8_t> Take(size_t n) {
    n = std::min(n, size_ - pos_);
    std::span<const uint8_t> out(data_ + pos_, n);
    pos_ += n;
    return out;
  }
  std::span<const uint8_t> Rest() { return Take(size_ - pos_); }
  size_t left() const { return size_ - pos_; }

 private:
  uint64_t Int(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && pos_ < size_; i++) v |= uint64_t{data_[pos_++]} << (8 * i);
    return v;
  }
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// A zeroed `block` with `input` copied over its start (cut to fit).
inline void FillBlock(std::span<const uint8_t> input, std::span<std::byte> block) {
  std::fill(block.begin(), block.end(), std::byte{0});
  std::memcpy(block.data(), input.data(), std::min(input.size(), block.size()));
}

// Stores XXH3-64 of bytes [0, sum_offset) at sum_offset: the checksum that
// labels, superblocks, log headers and chunk headers end with.
inline void SealBlock(std::span<std::byte> block, size_t sum_offset) {
  PutU64(block.data() + sum_offset, Checksum64(block.data(), sum_offset));
}

inline std::string_view AsText(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Aborts (a crash to libFuzzer) when an invariant the code promises breaks.
#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

}  // namespace tessera::fuzz
