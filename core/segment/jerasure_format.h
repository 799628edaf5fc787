// The jerasure segment's on-disk chunk header. See docs/format/jerasure-chunk.md.
//
// Every chunk (one stripe unit on one device) starts with one 4096-byte
// header block, followed by D = chunk_size - 4096 bytes of data (a data
// chunk) or parity (a coding chunk):
//
//   off   size  field
//     0      8  magic "TSRAJEC1"
//     8      4  version (1)
//    12      4  method (ErasureMethod value)
//    16      8  segment id (the jerasure segment's exNode id)
//    24      8  stripe number
//    32      8  generation (one per stripe write; equal on all its chunks)
//    40      4  chunk index: 0..K-1 data, K..K+M-1 coding (Jerasure's order)
//    44      2  K (n_data_devs)
//    46      2  M (n_parity_devs)
//    48      4  w
//    52      4  packet size (0 for matrix methods)
//    56      8  D, the data bytes of each chunk
//    64   8*N  XXH3-64 (seed 0) of the D bytes of chunk i, for i = 0..N-1
//                (N = K + M: every header carries the whole stripe's sums)
//     .      .  zero
//  4088      8  XXH3-64 of bytes [0, 4088)
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/segment/erasure_code.h"
#include "core/util/status.h"

namespace tessera {

inline constexpr char kChunkMagic[8] = {'T', 'S', 'R', 'A', 'J', 'E', 'C', '1'};
inline constexpr uint32_t kChunkVersion = 1;
inline constexpr size_t kChunkHeaderBytes = 4096;
inline constexpr size_t kChunkHeaderFixed = 64;
inline constexpr size_t kChunkHeaderSumOffset = kChunkHeaderBytes - 8;
// K + M: the checksum array must fit before the header checksum.
inline constexpr uint32_t kMaxStripeChunks = 256;
static_assert(kChunkHeaderFixed + 8 * kMaxStripeChunks <= kChunkHeaderSumOffset);

struct ChunkHeader {
  ErasureMethod method = ErasureMethod::kCauchyGood;
  uint64_t segment_id = 0;
  uint64_t stripe = 0;
  uint64_t generation = 0;
  uint32_t index = 0;
  uint16_t k = 0;
  uint16_t m = 0;
  uint32_t w = 0;
  uint32_t packet_size = 0;
  uint64_t data_bytes = 0;
  std::vector<uint64_t> checksums;  // k + m entries

  // Same write of the same stripe: generation and every checksum agree.
  bool SameWrite(const ChunkHeader& other) const {
    return generation == other.generation && checksums == other.checksums;
  }
};

// Fills all 4096 bytes of `block`. Requires checksums.size() == k + m <=
// kMaxStripeChunks.
void EncodeChunkHeader(const ChunkHeader& header, std::span<std::byte> block);

enum class ChunkHeaderProblem {
  kNone,
  kZero,        // every byte zero: never written
  kNotAHeader,  // wrong magic: not a chunk of any jerasure segment
  kCorrupt,     // right magic, but checksum, version or a count is wrong
};

// kNone with the header, or the problem. Only kNone fills `out`.
ChunkHeaderProblem DecodeChunkHeader(std::span<const std::byte> block, ChunkHeader& out);

}  // namespace tessera
