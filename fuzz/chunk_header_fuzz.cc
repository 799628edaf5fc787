// Fuzz target: the jerasure chunk header (core/segment/jerasure_format.h),
// alone and in the stripe it guards.
//
// Input: a byte choosing the chunk (j = byte % 3), then the header block.
// The block is decoded as it is and with its checksum recomputed (a header
// that decodes must encode back to itself). Then a jerasure segment (K=2,
// M=1, over memory vdevs: fuzz_pool.h) writes stripe 0 with known data, the
// sealed fuzzed header replaces chunk j's header, and the stripe is read
// and inspected: with one chunk damaged and M = 1 a read must return the
// written data or an error, never other bytes.
#include <array>

#include "core/segment/jerasure_format.h"
#include "core/segment/jerasure_segment.h"
#include "fuzz/fuzz_pool.h"
#include "fuzz/fuzz_util.h"

using namespace tessera;

namespace {

constexpr uint64_t kChunk = 16384;

JerasureSegment& TheSegment() {
  static fuzz::FuzzBlockSource source;
  static std::unique_ptr<JerasureSegment> seg = [] {
    auto lun = std::make_shared<LunSegment>(
        31, LunOptions{.n_devices = 3, .chunk_size = kChunk, .max_block_size = 2 * kChunk}, fuzz::FuzzPool(),
        &source);
    if (!lun->Grow()) std::abort();
    auto created = JerasureSegment::Create(32, JerasureOptions{.n_data_devs = 2, .n_parity_devs = 1, .w = 8}, lun,
                                           fuzz::FuzzPool());
    if (!created) std::abort();
    return std::move(*created);
  }();
  return *seg;
}

void CheckHeaderAlone(std::span<std::byte> block, size_t size) {
  ChunkHeader header;
  (void)DecodeChunkHeader(block, header);
  (void)DecodeChunkHeader(block.first(std::min(size, block.size())), header);
  fuzz::SealBlock(block, kChunkHeaderSumOffset);
  if (DecodeChunkHeader(block, header) != ChunkHeaderProblem::kNone) return;
  FUZZ_CHECK(header.checksums.size() == size_t{header.k} + header.m);
  FUZZ_CHECK(header.index < header.checksums.size());
  std::array<std::byte, kChunkHeaderBytes> again;
  EncodeChunkHeader(header, again);
  ChunkHeader round;
  FUZZ_CHECK(DecodeChunkHeader(again, round) == ChunkHeaderProblem::kNone && round.SameWrite(header) &&
             round.stripe == header.stripe && round.index == header.index);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint32_t j = in.U8() % 3;
  std::span<const uint8_t> header_bytes = in.Take(kChunkHeaderBytes);
  std::array<std::byte, kChunkHeaderBytes> block;
  fuzz::FillBlock(header_bytes, block);
  CheckHeaderAlone(block, header_bytes.size());  // leaves `block` sealed

  JerasureSegment& seg = TheSegment();
  std::vector<std::byte> written(seg.stripe_bytes());
  for (size_t i = 0; i < written.size(); i++) written[i] = std::byte(static_cast<uint8_t>(i * 7));
  FUZZ_CHECK(seg.Write(0, written, 0));
  auto where = seg.LocateChunk(0, j);
  FUZZ_CHECK(where);
  FUZZ_CHECK(fuzz::FuzzPool()->Write(where->address, block));
  std::vector<std::byte> read(seg.stripe_bytes());
  if (seg.Read(0, read)) FUZZ_CHECK(read == written);
  (void)seg.Inspect(InspectMode::kFull);
  return 0;
}
