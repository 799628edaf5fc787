// Encoding and decoding of the jerasure chunk header (jerasure_format.h).
//
// Design notes
//  1. Decoding checks, in order: all-zero (never written), magic (not a
//     header at all), header checksum, version, then the counts that size
//     the checksum array. Only a header that passes every check is returned;
//     whether it belongs to this segment, stripe and position is the
//     caller's question (identity is not format).
#include "core/segment/jerasure_format.h"

#include <algorithm>
#include <cstring>

#include "core/util/checksum.h"
#include "core/util/endian.h"

namespace tessera {

void EncodeChunkHeader(const ChunkHeader& h, std::span<std::byte> block) {
  std::fill(block.begin(), block.begin() + kChunkHeaderBytes, std::byte{0});
  std::byte* p = block.data();
  std::memcpy(p, kChunkMagic, 8);
  PutU32(p + 8, kChunkVersion);
  PutU32(p + 12, static_cast<uint32_t>(h.method));
  PutU64(p + 16, h.segment_id);
  PutU64(p + 24, h.stripe);
  PutU64(p + 32, h.generation);
  PutU32(p + 40, h.index);
  PutU16(p + 44, h.k);
  PutU16(p + 46, h.m);
  PutU32(p + 48, h.w);
  PutU32(p + 52, h.packet_size);
  PutU64(p + 56, h.data_bytes);
  for (size_t i = 0; i < h.checksums.size(); i++) {
    PutU64(p + kChunkHeaderFixed + 8 * i, h.checksums[i]);
  }
  PutU64(p + kChunkHeaderSumOffset, Checksum64(p, kChunkHeaderSumOffset));
}

ChunkHeaderProblem DecodeChunkHeader(std::span<const std::byte> block, ChunkHeader& out) {
  if (block.size() < kChunkHeaderBytes) return ChunkHeaderProblem::kCorrupt;
  const std::byte* p = block.data();
  if (std::all_of(p, p + kChunkHeaderBytes, [](std::byte b) { return b == std::byte{0}; })) {
    return ChunkHeaderProblem::kZero;
  }
  if (std::memcmp(p, kChunkMagic, 8) != 0) return ChunkHeaderProblem::kNotAHeader;
  if (GetU64(p + kChunkHeaderSumOffset) != Checksum64(p, kChunkHeaderSumOffset) ||
      GetU32(p + 8) != kChunkVersion) {
    return ChunkHeaderProblem::kCorrupt;
  }
  ChunkHeader h;
  h.method = static_cast<ErasureMethod>(GetU32(p + 12));
  h.segment_id = GetU64(p + 16);
  h.stripe = GetU64(p + 24);
  h.generation = GetU64(p + 32);
  h.index = GetU32(p + 40);
  h.k = GetU16(p + 44);
  h.m = GetU16(p + 46);
  h.w = GetU32(p + 48);
  h.packet_size = GetU32(p + 52);
  h.data_bytes = GetU64(p + 56);
  uint32_t n = uint32_t{h.k} + h.m;
  if (h.k == 0 || h.m == 0 || n > kMaxStripeChunks || h.index >= n) {
    return ChunkHeaderProblem::kCorrupt;
  }
  h.checksums.resize(n);
  for (uint32_t i = 0; i < n; i++) h.checksums[i] = GetU64(p + kChunkHeaderFixed + 8 * i);
  out = std::move(h);
  return ChunkHeaderProblem::kNone;
}

}  // namespace tessera
