// Fuzz target: the jerasure chunk header (core/segment/jerasure_format.h).
// The input is the header block; it is decoded as it is and with its
// checksum recomputed. A header that decodes must encode back to itself.
#include <array>

#include "core/segment/jerasure_format.h"
#include "fuzz/fuzz_util.h"

using namespace tessera;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::array<std::byte, kChunkHeaderBytes> block;
  fuzz::FillBlock({data, size}, block);
  ChunkHeader header;
  (void)DecodeChunkHeader(block, header);
  (void)DecodeChunkHeader(std::span(block).first(std::min(size, block.size())), header);
  fuzz::SealBlock(block, kChunkHeaderSumOffset);
  if (DecodeChunkHeader(block, header) != ChunkHeaderProblem::kNone) return 0;
  FUZZ_CHECK(header.checksums.size() == size_t{header.k} + header.m);
  FUZZ_CHECK(header.index < header.checksums.size());
  std::array<std::byte, kChunkHeaderBytes> again;
  EncodeChunkHeader(header, again);
  ChunkHeader round;
  FUZZ_CHECK(DecodeChunkHeader(again, round) == ChunkHeaderProblem::kNone && round.SameWrite(header) &&
             round.stripe == header.stripe && round.index == header.index);
  return 0;
}
